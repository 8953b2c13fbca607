-- canonical.digits
SELECT regexp_replace(v, '[^0-9]', '') AS x FROM (SELECT ' A.b+c@Gmail.com ' AS v) AS t

-- canonical.email_gmail
SELECT CASE WHEN split_part(CASE WHEN length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) = octet_length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) THEN lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) ELSE idr_lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) END, '@', 2) IN ('gmail.com', 'googlemail.com') THEN replace(split_part(split_part(CASE WHEN length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) = octet_length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) THEN lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) ELSE idr_lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) END, '@', 1), '+', 1), '.', '') || '@gmail.com' ELSE CASE WHEN length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) = octet_length(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) THEN lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) ELSE idr_lower(idr_nfc(CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END)) END END AS x FROM (SELECT ' A.b+c@Gmail.com ' AS v) AS t

-- canonical.email_valid
SELECT regexp_like(v, concat('^(?:', '[^@\t\n\f\r ]+@[^@\t\n\f\r .]+(\.[^@\t\n\f\r .]+)+', ')$')) AS x FROM (SELECT ' A.b+c@Gmail.com ' AS v) AS t

-- canonical.trim
SELECT CASE WHEN (ascii(v) <= 32 OR ascii(v) = 160) OR (ascii(substring(v, -1, 1)) <= 32 OR ascii(substring(v, -1, 1)) = 160) THEN regexp_replace(v, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE v END AS x FROM (SELECT ' A.b+c@Gmail.com ' AS v) AS t

-- clusters.clash
SELECT component FROM idr_fresh WHERE resolved_id IN (SELECT resolved_id FROM idr_taken) OR resolved_id IN (SELECT resolved_id FROM idr_fresh GROUP BY resolved_id HAVING count(*) > 1) AND attempt > 1

-- clusters.cluster_stats
SELECT count(*), coalesce(max(cluster_size), 0), count(*) FILTER (WHERE cluster_size = 1), count(*) FILTER (WHERE cluster_size > :t), coalesce(sum(cluster_size), 0), count(*) FILTER (WHERE cluster_size > 1000) FROM idr_proposed_clusters

-- clusters.clusters
SELECT c.component, min(e.entity_key) AS min_key, count(*) AS cluster_size FROM idr_entities e JOIN idr_cc c ON c.node = e.eid GROUP BY c.component

-- clusters.first_run
SELECT component, min_key AS resolved_id, cluster_size FROM idr_clusters

-- clusters.fresh
SELECT component, min_key, min_key AS resolved_id, 1 AS attempt FROM idr_clusters LEFT ANTI JOIN idr_kept USING (component)

-- clusters.kept
SELECT component, old_id FROM (SELECT component, old_id, row_number() OVER (PARTITION BY component ORDER BY n DESC, old_id) AS idr_rn FROM (SELECT component, old_id, n FROM (SELECT o.component, o.old_id, o.n, row_number() OVER (PARTITION BY o.old_id ORDER BY o.n DESC, k.min_key) AS idr_rn FROM idr_overlap o JOIN idr_clusters k USING (component)) AS idr_q WHERE idr_rn = 1) AS s) AS idr_q WHERE idr_rn = 1

-- clusters.lineage
SELECT l.event, l.resolved_id, l.related_resolved_id, l.entities_moved,   CASE WHEN l.event = 'SPLIT' THEN s.cluster_size ELSE l.new_size END AS resolved_cluster_size,   CASE WHEN l.event = 'SPLIT' THEN l.new_size ELSE b.old_size END AS related_cluster_size FROM idr_lineage_pairs l LEFT JOIN idr_proposed_clusters s ON l.event = 'SPLIT' AND s.resolved_id = l.resolved_id LEFT JOIN (SELECT resolved_id AS old_id, count(*) AS old_size            FROM "idr_out"."identity_resolved_membership_current" WHERE resolved_id IN (SELECT old_id FROM idr_lineage_pairs WHERE event = 'MERGE')            GROUP BY resolved_id) b ON l.event = 'MERGE' AND b.old_id = l.old_id

-- clusters.lineage_counts
SELECT count(*) FILTER (WHERE event = 'MERGE'), count(*) FILTER (WHERE event = 'SPLIT') FROM idr_lineage

-- clusters.lineage_insert
INSERT INTO idr_out.resolved_id_lineage (run_id, event, resolved_id, related_resolved_id, entities_moved, resolved_cluster_size, related_cluster_size, recorded_at) SELECT :run_id, event, resolved_id, related_resolved_id, entities_moved, resolved_cluster_size, related_cluster_size, :ts FROM idr_lineage

-- clusters.lineage_pairs
SELECT CASE WHEN k.old_id IS NULL THEN 'MERGE' ELSE 'SPLIT' END AS event,   CASE WHEN k.old_id IS NULL THEN p.resolved_id ELSE o.old_id END AS resolved_id,   CASE WHEN k.old_id IS NULL THEN o.old_id ELSE p.resolved_id END AS related_resolved_id,   o.n AS entities_moved, p.cluster_size AS new_size, o.old_id FROM (SELECT o.component, o.old_id, o.n FROM idr_overlap o LEFT ANTI JOIN idr_kept kk ON kk.component = o.component AND kk.old_id = o.old_id) o JOIN idr_proposed_clusters p USING (component) LEFT JOIN idr_kept k ON k.old_id = o.old_id WHERE p.resolved_id <> o.old_id

-- clusters.next_attempt
SELECT component, min_key, CASE WHEN component IN (SELECT component FROM idr_clash) THEN min_key || '#' || CAST(attempt + 1 AS STRING) ELSE resolved_id END AS resolved_id, CASE WHEN component IN (SELECT component FROM idr_clash) THEN attempt + 1 ELSE attempt END AS attempt FROM idr_fresh

-- clusters.overlap
SELECT c.component, m.resolved_id AS old_id, count(*) AS n FROM idr_entities e JOIN idr_cc c ON c.node = e.eid JOIN "idr_out"."identity_resolved_membership_current" m USING (entity_key) GROUP BY c.component, m.resolved_id

-- clusters.proposed_clusters
SELECT c.component, coalesce(k.old_id, f.resolved_id) AS resolved_id, c.cluster_size FROM idr_clusters c LEFT JOIN idr_kept k USING (component) LEFT JOIN idr_fresh f USING (component)

-- clusters.proposed_membership_full
SELECT e.entity_key, p.resolved_id, e.table_id, e.eid AS entity_id FROM idr_entities e JOIN idr_cc c ON c.node = e.eid JOIN idr_proposed_clusters p USING (component)

-- clusters.proposed_membership_incr
SELECT e.entity_key, p.resolved_id, e.table_id, e.entity_id AS entity_id FROM idr_entities e JOIN idr_cc c ON c.node = e.eid JOIN idr_proposed_clusters p USING (component)

-- clusters.taken
SELECT resolved_id FROM (SELECT resolved_id, CASE WHEN contains(resolved_id, '#') THEN regexp_replace(resolved_id, '#[0-9]+$', '') END AS base FROM "idr_out"."identity_clusters_current") AS p WHERE resolved_id IN (SELECT min_key FROM idr_fresh) OR base IN (SELECT min_key FROM idr_fresh)

-- dryrun.bridges
INSERT INTO idr_out.dry_run_bridges (run_id, proposed_resolved_id, identifier_type, identifier_value_norm,
                                         parts, entities, created_at)
    WITH merges AS (
        SELECT prop_rid FROM idr_dr_scope WHERE prop_rid IS NOT NULL
        GROUP BY prop_rid HAVING count(DISTINCT cur_rid) >= 2),
    held AS (
        SELECT DISTINCT s.prop_rid, coalesce(s.cur_rid, chr(0) || s.entity_key) AS part, s.entity_key,
               t.identifier_type, i.value_norm
        FROM idr_ids i JOIN idr_entities e USING (eid) JOIN idr_types t USING (type_idx)
        JOIN idr_dr_scope s ON s.entity_key = e.entity_key
        WHERE s.prop_rid IN (SELECT prop_rid FROM merges)
          AND NOT EXISTS (SELECT 1 FROM idr_skipped k WHERE k.identifier_type = t.identifier_type
                          AND k.identifier_value_norm = i.value_norm))
    SELECT :run_id, prop_rid, identifier_type, value_norm, count(DISTINCT part), count(*), :ts
    FROM held GROUP BY prop_rid, identifier_type, value_norm HAVING count(DISTINCT part) >= 2

-- dryrun.changed
SELECT cur_rid AS rid FROM idr_dr_scope WHERE change_type IN ('MOVED', 'REMOVED')
    UNION SELECT prop_rid FROM idr_dr_scope WHERE change_type IN ('NEW', 'MOVED')

-- dryrun.check
SELECT coalesce(r.rid, p.resolved_id), p.cluster_size, coalesce(r.prop_size, 0)
    FROM (SELECT rid, prop_size FROM idr_dr_rids WHERE prop_size > 0
          AND rid IN (SELECT prop_rid FROM idr_dr_scope)) r
    FULL OUTER JOIN idr_proposed_clusters p ON p.resolved_id = r.rid
    WHERE p.cluster_size IS DISTINCT FROM r.prop_size
    LIMIT 3

-- dryrun.counts
SELECT count(*) FILTER (WHERE change_type = 'NEW'),
           count(*) FILTER (WHERE change_type = 'MOVED'),
           count(*) FILTER (WHERE change_type = 'REMOVED'),
           count(*) FILTER (WHERE change_type = 'UNCHANGED'),
           count(*) FILTER (WHERE cur_rid IS NOT NULL)
    FROM idr_dr_scope

-- dryrun.merge_split
WITH pairs AS (
        SELECT DISTINCT cur_rid, prop_rid FROM idr_dr_scope
        WHERE cur_rid IS NOT NULL AND prop_rid IS NOT NULL
        UNION SELECT rid, rid FROM idr_dr_rids WHERE kept > 0),
    merge_targets AS (SELECT prop_rid FROM pairs GROUP BY 1 HAVING count(*) >= 2),
    splits AS (SELECT cur_rid FROM pairs GROUP BY 1 HAVING count(*) >= 2)
    SELECT (SELECT count(DISTINCT cur_rid) FROM pairs WHERE prop_rid IN (SELECT prop_rid FROM merge_targets)),
           (SELECT count(*) FROM merge_targets),
           (SELECT count(*) FROM splits)

-- dryrun.results_full
INSERT INTO idr_out.dry_run_results (run_id, entity_key, current_resolved_id, proposed_resolved_id, change_type, current_cluster_size, proposed_cluster_size, created_at, table_id)
        SELECT :run_id, s.entity_key, s.cur_rid, s.prop_rid, s.change_type, rc.cur_size,
               rp.prop_size, :ts, s.table_id
        FROM idr_dr_scope s LEFT JOIN idr_dr_rids rc ON rc.rid = s.cur_rid
        LEFT JOIN idr_dr_rids rp ON rp.rid = s.prop_rid
        WHERE s.change_type <> 'UNCHANGED' OR s.prop_rid IN (SELECT rid FROM idr_dr_changed)

-- dryrun.results_incr
INSERT INTO idr_out.dry_run_results (run_id, entity_key, current_resolved_id, proposed_resolved_id, change_type, current_cluster_size, proposed_cluster_size, created_at, table_id)
        SELECT :run_id, s.entity_key, s.cur_rid, s.prop_rid, s.change_type, rc.cur_size,
               rp.prop_size, :ts, s.table_id
        FROM idr_dr_scope s LEFT JOIN idr_dr_rids rc ON rc.rid = s.cur_rid
        LEFT JOIN idr_dr_rids rp ON rp.rid = s.prop_rid
        WHERE s.change_type <> 'UNCHANGED' OR s.prop_rid IN (SELECT rid FROM idr_dr_changed)
        
        UNION ALL
        SELECT :run_id, c.entity_key, c.resolved_id, c.resolved_id, 'UNCHANGED', r.cur_size,
               r.prop_size, :ts, c.table_id
        FROM "idr_out"."identity_resolved_membership_current" c JOIN idr_dr_rids r ON r.rid = c.resolved_id
        WHERE c.resolved_id IN (SELECT rid FROM idr_dr_changed)
          AND NOT EXISTS (SELECT 1 FROM idr_dr_scope s WHERE s.entity_key = c.entity_key)

-- dryrun.rids_full
WITH rids AS (
            SELECT cur_rid AS rid FROM idr_dr_scope WHERE cur_rid IS NOT NULL
            UNION SELECT prop_rid FROM idr_dr_scope WHERE prop_rid IS NOT NULL),
        in_cur AS (SELECT cur_rid AS rid, count(*) AS n FROM idr_dr_scope
                   WHERE cur_rid IS NOT NULL GROUP BY 1),
        in_prop AS (SELECT prop_rid AS rid, count(*) AS n FROM idr_dr_scope
                    WHERE prop_rid IS NOT NULL GROUP BY 1),
        kept AS (SELECT CAST(NULL AS STRING) AS rid, CAST(0 AS BIGINT) AS kept WHERE false)
        SELECT r.rid, coalesce(k.kept, 0) AS kept,
               coalesce(ic.n, 0) + coalesce(k.kept, 0) AS cur_size,
               coalesce(ip.n, 0) + coalesce(k.kept, 0) AS prop_size
        FROM rids r LEFT JOIN in_cur ic ON ic.rid = r.rid LEFT JOIN in_prop ip ON ip.rid = r.rid
        LEFT JOIN kept k ON k.rid = r.rid

-- dryrun.rids_incr
WITH rids AS (
            SELECT cur_rid AS rid FROM idr_dr_scope WHERE cur_rid IS NOT NULL
            UNION SELECT prop_rid FROM idr_dr_scope WHERE prop_rid IS NOT NULL),
        in_cur AS (SELECT cur_rid AS rid, count(*) AS n FROM idr_dr_scope
                   WHERE cur_rid IS NOT NULL GROUP BY 1),
        in_prop AS (SELECT prop_rid AS rid, count(*) AS n FROM idr_dr_scope
                    WHERE prop_rid IS NOT NULL GROUP BY 1),
        kept AS (
        SELECT c.resolved_id AS rid, count(*) AS kept FROM "idr_out"."identity_resolved_membership_current" c
        WHERE c.resolved_id IN (SELECT rid FROM rids)
          AND NOT EXISTS (SELECT 1 FROM idr_dr_scope s WHERE s.entity_key = c.entity_key)
        GROUP BY 1)
        SELECT r.rid, coalesce(k.kept, 0) AS kept,
               coalesce(ic.n, 0) + coalesce(k.kept, 0) AS cur_size,
               coalesce(ip.n, 0) + coalesce(k.kept, 0) AS prop_size
        FROM rids r LEFT JOIN in_cur ic ON ic.rid = r.rid LEFT JOIN in_prop ip ON ip.rid = r.rid
        LEFT JOIN kept k ON k.rid = r.rid

-- dryrun.scope_full
SELECT coalesce(p.entity_key, c.entity_key) AS entity_key, coalesce(p.table_id, c.table_id) AS table_id,
               c.resolved_id AS cur_rid, p.resolved_id AS prop_rid,
               CASE WHEN p.entity_key IS NULL THEN 'REMOVED'
                    WHEN c.entity_key IS NULL THEN 'NEW'
                    WHEN c.resolved_id IS NOT DISTINCT FROM p.resolved_id THEN 'UNCHANGED'
                    ELSE 'MOVED' END AS change_type
        FROM idr_proposed_membership p FULL OUTER JOIN "idr_out"."identity_resolved_membership_current" c ON c.entity_key = p.entity_key

-- dryrun.scope_incr
SELECT p.entity_key, coalesce(p.table_id, c.table_id) AS table_id,
               c.resolved_id AS cur_rid, p.resolved_id AS prop_rid,
               CASE WHEN c.entity_key IS NULL THEN 'NEW'
                    WHEN c.resolved_id IS NOT DISTINCT FROM p.resolved_id THEN 'UNCHANGED'
                    ELSE 'MOVED' END AS change_type
        FROM idr_proposed_membership p LEFT JOIN "idr_out"."identity_resolved_membership_current" c ON c.entity_key = p.entity_key
        UNION ALL
        SELECT c.entity_key, c.table_id, c.resolved_id, NULL, 'REMOVED'
        FROM "idr_out"."identity_resolved_membership_current" c
        WHERE c.entity_key IN (SELECT entity_key FROM idr_removed_entities)
          AND NOT EXISTS (SELECT 1 FROM idr_proposed_membership p WHERE p.entity_key = c.entity_key)

-- dryrun.untouched
SELECT count(*), coalesce(max(cluster_size), 0) FROM idr_out.identity_clusters_current k
    WHERE NOT EXISTS (SELECT 1 FROM idr_dr_rids r WHERE r.rid = k.resolved_id)

-- edges.edges
SELECT i.eid AS src, g.anchor AS dst, i.type_idx, i.value_norm FROM idr_ids i JOIN idr_groups g USING (type_idx, value_norm) WHERE NOT g.skipped AND i.eid <> g.anchor

-- edges.edges_by_type
SELECT t.identifier_type, count(*) FROM idr_edges JOIN idr_types t USING (type_idx) GROUP BY t.identifier_type

-- edges.edges_replaced
SELECT count(*) FROM (SELECT * FROM (WITH idr_holders AS (SELECT c.entity_key, i.type_idx, i.value_norm FROM idr_carried_ids i JOIN idr_carried c USING (eid) LEFT SEMI JOIN idr_value_change v ON v.type_idx = i.type_idx AND v.value_norm = i.value_norm UNION ALL SELECT s.entity_key, o.type_idx, o.value_norm FROM idr_old_ids o JOIN idr_scope_old s USING (entity_id) LEFT SEMI JOIN idr_value_change v ON v.type_idx = o.type_idx AND v.value_norm = o.value_norm) SELECT h.type_idx, h.value_norm, h.entity_key, g.anchor_entity_key FROM idr_holders h JOIN (  SELECT type_idx, value_norm, min_by(entity_key, struct(CAST(conv(substr(md5(entity_key), 1, 15), 16, 10) AS BIGINT), entity_key)) AS anchor_entity_key FROM idr_holders GROUP BY type_idx, value_norm HAVING count(*) > 1) g USING (type_idx, value_norm) WHERE h.entity_key <> g.anchor_entity_key) b LEFT ANTI JOIN (SELECT t.type_idx, s.identifier_value_norm AS value_norm FROM "idr_out"."identity_skipped_groups_current" s JOIN idr_types t USING (identifier_type)) k USING (type_idx, value_norm) EXCEPT SELECT * FROM (WITH idr_holders AS (SELECT e.entity_key, i.type_idx, i.value_norm FROM idr_ids i JOIN idr_entities e USING (eid) LEFT SEMI JOIN idr_groups g ON g.type_idx = i.type_idx AND g.value_norm = i.value_norm AND NOT g.skipped LEFT SEMI JOIN idr_value_change v ON v.type_idx = i.type_idx AND v.value_norm = i.value_norm) SELECT h.type_idx, h.value_norm, h.entity_key, g.anchor_entity_key FROM idr_holders h JOIN (  SELECT type_idx, value_norm, min_by(entity_key, struct(CAST(conv(substr(md5(entity_key), 1, 15), 16, 10) AS BIGINT), entity_key)) AS anchor_entity_key FROM idr_holders GROUP BY type_idx, value_norm HAVING count(*) > 1) g USING (type_idx, value_norm) WHERE h.entity_key <> g.anchor_entity_key) a) AS x

-- edges.groups_full
SELECT g.type_idx, g.value_norm, g.n AS n, g.anchor, g.n > t.max_group_size AS skipped, t.max_group_size FROM (  SELECT type_idx, value_norm, count(*) AS n, min(eid) AS anchor FROM idr_ids   GROUP BY type_idx, value_norm HAVING count(*) > 1) g JOIN idr_types t USING (type_idx)

-- edges.groups_incr
SELECT g.type_idx, g.value_norm, coalesce(o.n, g.n) AS n, g.anchor, coalesce(o.n, g.n) > t.max_group_size AS skipped, t.max_group_size FROM (  SELECT type_idx, value_norm, count(*) AS n, min(eid) AS anchor FROM idr_ids   GROUP BY type_idx, value_norm HAVING count(*) > 1) g JOIN idr_types t USING (type_idx) LEFT JOIN idr_group_sizes o USING (type_idx, value_norm)

-- edges.skipped
SELECT t.identifier_type, s.value_norm AS identifier_value_norm, s.n AS group_size,   s.max_group_size AS max_allowed, s.sample_entity_keys FROM (SELECT g.type_idx, g.value_norm, any_value(g.n) AS n, any_value(g.max_group_size) AS max_group_size,         slice(array_sort(collect_list(e.entity_key)), 1, 5) AS sample_entity_keys       FROM idr_groups g JOIN idr_ids i USING (type_idx, value_norm) JOIN idr_entities e USING (eid)       WHERE g.skipped GROUP BY g.type_idx, g.value_norm) s JOIN idr_types t USING (type_idx)

-- edges.skipped_by_type
SELECT identifier_type, count(*) FROM idr_skipped GROUP BY identifier_type

-- extract.copy_counts
SELECT count(*), coalesce(max(idr_row) + 1, 0), count(*) FILTER (WHERE k IS NULL AND NOT del), count(k) FILTER (WHERE NOT del), count(DISTINCT k) FILTER (WHERE NOT del) FROM idr_src_0

-- extract.delta_keys
SELECT DISTINCT entity_key FROM (SELECT entity_key FROM "idr_out"."identity_resolved_membership_current" WHERE table_id = 'crm' UNION SELECT 'crm:' || CAST(k AS STRING) FROM idr_src_0 WHERE k IS NOT NULL) AS d(entity_key)

-- extract.entities
SELECT 'crm:' || CAST(k AS STRING) AS entity_key, 'crm' AS table_id, idr_row + 10 AS eid FROM idr_src_0 WHERE k IS NOT NULL AND NOT del

-- extract.first_row_of_key
SELECT k, min(idr_row) + 10 AS eid FROM idr_src_0 WHERE k IS NOT NULL AND NOT del GROUP BY k

-- extract.older_keys
SELECT DISTINCT ("id") AS k FROM "crm" WHERE (CAST("ts" AS TIMESTAMP) >= :cutoff) IS NOT TRUE AND ("id") IN (SELECT k FROM idr_src_0)

-- extract.older_rows
SELECT CASE WHEN trim(CAST(("id") AS STRING)) = '' THEN NULL ELSE ("id") END AS k, coalesce(CAST(("is_deleted") AS BOOLEAN), FALSE) AS del, CAST("ts" AS TIMESTAMP) AS wm, CAST(("email") AS STRING) AS v0, CAST(("card") AS STRING) AS v1 FROM "crm" WHERE (CAST("ts" AS TIMESTAMP) >= :cutoff) IS NOT TRUE AND ("id") IN (SELECT k FROM idr_xkeys_0)

-- extract.raw_values
SELECT eid AS eid, 2 AS kind, v1 AS raw_value, TRUE AS dup FROM idr_src_0 JOIN idr_keys_0 USING (k) WHERE NOT del AND v1 IS NOT NULL

-- extract.source_rows_all
SELECT CASE WHEN trim(CAST(("id") AS STRING)) = '' THEN NULL ELSE ("id") END AS k, coalesce(CAST(("is_deleted") AS BOOLEAN), FALSE) AS del, CAST("ts" AS TIMESTAMP) AS wm, CAST(("email") AS STRING) AS v0, CAST(("card") AS STRING) AS v1 FROM "crm" WHERE TRUE

-- extract.source_rows_changed
SELECT CASE WHEN trim(CAST(("id") AS STRING)) = '' THEN NULL ELSE ("id") END AS k, coalesce(CAST(("is_deleted") AS BOOLEAN), FALSE) AS del, CAST("ts" AS TIMESTAMP) AS wm, CAST(("email") AS STRING) AS v0, CAST(("card") AS STRING) AS v1 FROM "crm" WHERE CAST("ts" AS TIMESTAMP) >= :cutoff

-- golden.picks
SELECT r.gid, min_by(tb, struct((CAST(c0 IS NOT NULL AS INTEGER) + CAST(c1 IS NOT NULL AS INTEGER)) IS NULL, -(CAST(c0 IS NOT NULL AS INTEGER) + CAST(c1 IS NOT NULL AS INTEGER)), (unix_micros(rec)) IS NULL, -(unix_micros(rec)), (tb) IS NULL, (tb))) FILTER (WHERE c0 IS NOT NULL OR c1 IS NOT NULL) AS w0, min_by(tb, struct((CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END) IS NULL, (CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END), (unix_micros(TRY_CAST(c3 AS TIMESTAMP))) IS NULL, -(unix_micros(TRY_CAST(c3 AS TIMESTAMP))), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w1, min_by(tb, struct((f2) IS NULL, -(f2), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w2, min_by(tb, struct((coalesce(length(CAST(c2 AS STRING)), 0)) IS NULL, -(coalesce(length(CAST(c2 AS STRING)), 0)), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w3, min_by(tb, struct(c4, tb)) FILTER (WHERE c4 IS NOT NULL) AS w4, max_by(tb, struct(c4, -tb)) FILTER (WHERE c4 IS NOT NULL) AS w5, min_by(tb, struct((CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END) IS NULL, (CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w6 FROM (SELECT r.*, n2.f2 FROM idr_granked r LEFT JOIN (SELECT gid, c2, count(*) AS f2 FROM idr_granked WHERE c2 IS NOT NULL GROUP BY gid, c2) AS n2 ON n2.gid IS NOT DISTINCT FROM r.gid AND n2.c2 IS NOT DISTINCT FROM r.c2) AS r GROUP BY r.gid

-- golden.picks_ids
SELECT r.gid, min_by(tb, struct((f7) IS NULL, -(f7), (tb) IS NULL, (tb))) FILTER (WHERE type_idx = 0 AND (v IS NOT NULL)) AS w7 FROM (SELECT r.*, n7.f7 FROM idr_granked_ids r LEFT JOIN (SELECT gid, type_idx, v, count(*) AS f7 FROM idr_granked_ids WHERE type_idx = 0 AND (v IS NOT NULL) GROUP BY gid, type_idx, v) AS n7 ON n7.gid IS NOT DISTINCT FROM r.gid AND n7.type_idx IS NOT DISTINCT FROM r.type_idx AND n7.v IS NOT DISTINCT FROM r.v) AS r GROUP BY r.gid

-- golden.provenance_rows
SELECT gid, inline(array(struct('city' AS attribute_name, resolved_id AS entity_key), struct('nick' AS attribute_name, CAST(NULL AS STRING) AS entity_key))) FROM idr_gclusters

-- golden.ranked
SELECT q.*, row_number() OVER (PARTITION BY gid ORDER BY trust ASC NULLS LAST, rec DESC NULLS LAST, ek ASC NULLS LAST, c0 ASC NULLS LAST, c1 ASC NULLS LAST, c2 ASC NULLS LAST, c3 ASC NULLS LAST, c4 ASC NULLS LAST) AS tb FROM (SELECT gid, ek, src, rec, CASE src WHEN 0 THEN 1 END AS trust, CASE WHEN (a0 IS NOT NULL AND trim(CAST(a0 AS STRING)) <> '') THEN a0 END AS c0, CASE WHEN (a1 IS NOT NULL AND trim(CAST(a1 AS STRING)) <> '') THEN a1 END AS c1, CASE WHEN (a2 IS NOT NULL AND trim(CAST(a2 AS STRING)) <> '') THEN a2 END AS c2, CASE WHEN (a3 IS NOT NULL AND trim(CAST(a3 AS STRING)) <> '') THEN a3 END AS c3, a4 AS c4 FROM idr_gcand) AS q

-- golden.ranked_ids
SELECT q.*, row_number() OVER (PARTITION BY gid, type_idx ORDER BY trust ASC NULLS LAST, rec DESC NULLS LAST, ek ASC NULLS LAST, v ASC NULLS LAST) AS tb FROM (SELECT gid, ek, src, rec, type_idx, CASE src WHEN 0 THEN 1 END AS trust, CASE WHEN (v IS NOT NULL AND trim(CAST(v AS STRING)) <> '') THEN v END AS v FROM idr_gcand_ids) AS q

-- golden.ranked_unique_keys
SELECT q.*, row_number() OVER (PARTITION BY gid ORDER BY trust ASC NULLS LAST, rec DESC NULLS LAST, ek ASC NULLS LAST) AS tb FROM (SELECT gid, ek, src, rec, CASE src WHEN 0 THEN 1 END AS trust, CASE WHEN (a0 IS NOT NULL AND trim(CAST(a0 AS STRING)) <> '') THEN a0 END AS c0, a4 AS c4 FROM idr_gcand) AS q

-- golden.select
SELECT c.gid, r0.v0_0 AS "city", r0.v0_1 AS "postcode", r0.v1_0 AS "first_name", r0.v2_0 AS "color", r0.v3_0 AS "nick", r0.v4_0 AS "age", r0.v5_0 AS "visits", r0.v6_0 AS "tier", r1.v7_0 AS "best_email", r0.k0 AS k0, r0.k1 AS k1, r0.k2 AS k2, r0.k3 AS k3, r0.k4 AS k4, r0.k5 AS k5, r0.k6 AS k6, r1.k7 AS k7 FROM idr_gclusters c LEFT JOIN idr_gvalues_attrs r0 ON r0.gid = c.gid LEFT JOIN idr_gvalues_ids r1 ON r1.gid = c.gid

-- golden.select_carry
SELECT c.gid, c.resolved_id, r0.v0_0 AS "city", r0.v0_1 AS "postcode", r0.v1_0 AS "first_name", r0.v2_0 AS "color", r0.v3_0 AS "nick", r0.v4_0 AS "age", r0.v5_0 AS "visits", r0.v6_0 AS "tier", r0.k0 AS k0, r0.k1 AS k1, r0.k2 AS k2, r0.k3 AS k3, r0.k4 AS k4, r0.k5 AS k5, r0.k6 AS k6 FROM idr_gclusters c LEFT JOIN idr_gvalues_attrs r0 ON r0.gid = c.gid

-- golden.single_values
SELECT r.gid, r.c0 AS v0_0, r.c1 AS v0_1, CASE WHEN r.c0 IS NOT NULL OR r.c1 IS NOT NULL THEN r.ek END AS k0, r.c2 AS v1_0, CASE WHEN r.c2 IS NOT NULL THEN r.ek END AS k1, r.c2 AS v2_0, CASE WHEN r.c2 IS NOT NULL THEN r.ek END AS k2, r.c2 AS v3_0, CASE WHEN r.c2 IS NOT NULL THEN r.ek END AS k3, r.c4 AS v4_0, CASE WHEN r.c4 IS NOT NULL THEN r.ek END AS k4, r.c4 AS v5_0, CASE WHEN r.c4 IS NOT NULL THEN r.ek END AS k5, r.c2 AS v6_0, CASE WHEN r.c2 IS NOT NULL THEN r.ek END AS k6 FROM (SELECT gid, ek, CASE WHEN (a0 IS NOT NULL AND trim(CAST(a0 AS STRING)) <> '') THEN a0 END AS c0, CASE WHEN (a1 IS NOT NULL AND trim(CAST(a1 AS STRING)) <> '') THEN a1 END AS c1, CASE WHEN (a2 IS NOT NULL AND trim(CAST(a2 AS STRING)) <> '') THEN a2 END AS c2, CASE WHEN (a3 IS NOT NULL AND trim(CAST(a3 AS STRING)) <> '') THEN a3 END AS c3, a4 AS c4 FROM idr_gsingle) AS r

-- golden.values
SELECT p.gid, max(r.c0) FILTER (WHERE r.tb = p.w0) AS v0_0, max(r.c1) FILTER (WHERE r.tb = p.w0) AS v0_1, max(r.ek) FILTER (WHERE r.tb = p.w0) AS k0, max(r.c2) FILTER (WHERE r.tb = p.w1) AS v1_0, max(r.ek) FILTER (WHERE r.tb = p.w1) AS k1, max(r.c2) FILTER (WHERE r.tb = p.w2) AS v2_0, max(r.ek) FILTER (WHERE r.tb = p.w2) AS k2, max(r.c2) FILTER (WHERE r.tb = p.w3) AS v3_0, max(r.ek) FILTER (WHERE r.tb = p.w3) AS k3, max(r.c4) FILTER (WHERE r.tb = p.w4) AS v4_0, max(r.ek) FILTER (WHERE r.tb = p.w4) AS k4, max(r.c4) FILTER (WHERE r.tb = p.w5) AS v5_0, max(r.ek) FILTER (WHERE r.tb = p.w5) AS k5, max(r.c2) FILTER (WHERE r.tb = p.w6) AS v6_0, max(r.ek) FILTER (WHERE r.tb = p.w6) AS k6 FROM idr_granked r JOIN (SELECT r.gid, min_by(tb, struct((CAST(c0 IS NOT NULL AS INTEGER) + CAST(c1 IS NOT NULL AS INTEGER)) IS NULL, -(CAST(c0 IS NOT NULL AS INTEGER) + CAST(c1 IS NOT NULL AS INTEGER)), (unix_micros(rec)) IS NULL, -(unix_micros(rec)), (tb) IS NULL, (tb))) FILTER (WHERE c0 IS NOT NULL OR c1 IS NOT NULL) AS w0, min_by(tb, struct((CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END) IS NULL, (CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END), (unix_micros(TRY_CAST(c3 AS TIMESTAMP))) IS NULL, -(unix_micros(TRY_CAST(c3 AS TIMESTAMP))), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w1, min_by(tb, struct((f2) IS NULL, -(f2), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w2, min_by(tb, struct((coalesce(length(CAST(c2 AS STRING)), 0)) IS NULL, -(coalesce(length(CAST(c2 AS STRING)), 0)), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w3, min_by(tb, struct(c4, tb)) FILTER (WHERE c4 IS NOT NULL) AS w4, max_by(tb, struct(c4, -tb)) FILTER (WHERE c4 IS NOT NULL) AS w5, min_by(tb, struct((CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END) IS NULL, (CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END), (tb) IS NULL, (tb))) FILTER (WHERE c2 IS NOT NULL) AS w6 FROM (SELECT r.*, n2.f2 FROM idr_granked r LEFT JOIN (SELECT gid, c2, count(*) AS f2 FROM idr_granked WHERE c2 IS NOT NULL GROUP BY gid, c2) AS n2 ON n2.gid IS NOT DISTINCT FROM r.gid AND n2.c2 IS NOT DISTINCT FROM r.c2) AS r GROUP BY r.gid) p ON p.gid = r.gid WHERE r.tb = p.w0 OR r.tb = p.w1 OR r.tb = p.w2 OR r.tb = p.w3 OR r.tb = p.w4 OR r.tb = p.w5 OR r.tb = p.w6 GROUP BY p.gid

-- graph.canonical_edges
SELECT DISTINCT
  CASE WHEN src > dst THEN src ELSE dst END AS src,
  CASE WHEN src > dst THEN dst ELSE src END AS dst
FROM (SELECT CAST(src AS BIGINT) AS src, CAST(dst AS BIGINT) AS dst FROM idr_edges) AS e
WHERE src <> dst

-- graph.convergence
SELECT
  (SELECT COUNT(*) FROM "idr_cc__cc_edges") AS edge_count,
  (SELECT COUNT(DISTINCT src) FROM "idr_cc__cc_edges") AS child_count,
  (SELECT COUNT(*) FROM "idr_cc__cc_edges" WHERE dst IN (SELECT src FROM "idr_cc__cc_edges")) AS deep_edges

-- graph.labels
SELECT n.node AS node, COALESCE(e.dst, n.node) AS component
FROM (SELECT id AS node FROM range(100)) AS n
LEFT JOIN "idr_cc__cc_edges" AS e ON e.src = n.node

-- graph.large_star
WITH mins AS (SELECT src AS node, MIN(dst) AS m FROM "idr_cc__cc_edges" GROUP BY src)
SELECT e.src AS src, COALESCE(mins.m, e.dst) AS dst
FROM "idr_cc__cc_edges" AS e
LEFT JOIN mins ON e.dst = mins.node

-- graph.small_star
WITH mins AS (SELECT src AS node, MIN(dst) AS m FROM "idr_cc__cc_large" GROUP BY src)
SELECT DISTINCT src, dst FROM (
  SELECT e.dst AS src, mins.m AS dst
  FROM "idr_cc__cc_large" AS e
  JOIN mins ON e.src = mins.node
  WHERE e.dst <> mins.m
  UNION ALL
  SELECT node AS src, m AS dst FROM mins
) AS s

-- normalize.ids
SELECT eid, type_idx, value_norm FROM idr_status WHERE status = 0 AND NOT dup UNION ALL SELECT DISTINCT eid, type_idx, value_norm FROM idr_status WHERE status = 0 AND dup

-- normalize.status
SELECT v.eid, CAST(k.type_idx AS SMALLINT) AS type_idx, v.value_norm, v.dup, CAST(CASE WHEN v.ph_key IN (SELECT key FROM idr_placeholders) THEN 1 WHEN v.value_norm IS NULL THEN 2 WHEN x.kind IS NOT NULL OR coalesce(CASE k.type_idx WHEN 0 THEN (v.value_norm LIKE :pattern_0) WHEN 1 THEN (v.value_norm LIKE :pattern_1) ELSE FALSE END, FALSE) THEN 3 ELSE 0 END AS TINYINT) AS status FROM (SELECT eid, dup, kind, nullif(CASE WHEN CASE kind WHEN 0 THEN regexp_like(clean, concat('^(?:', '[^@\t\n\f\r ]+@[^@\t\n\f\r .]+(\.[^@\t\n\f\r .]+)+', ')$')) ELSE TRUE END THEN clean END, '') AS value_norm, CASE WHEN length(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) = octet_length(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) THEN lower(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) ELSE idr_lower(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) END AS ph_key FROM (SELECT eid, dup, kind, CASE kind WHEN 0 THEN CASE WHEN length(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) = octet_length(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) THEN lower(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) ELSE idr_lower(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) END WHEN 1 THEN CASE WHEN length(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) = octet_length(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) THEN lower(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) ELSE idr_lower(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) END WHEN 2 THEN raw_value END AS clean FROM idr_raw_ids WHERE kind IN (0, 1, 2)) AS idr_c) AS v JOIN idr_kinds k ON k.kind = v.kind LEFT JOIN idr_excluded_exact x ON x.kind = v.kind AND x.value_norm = v.value_norm

-- normalize.status_counts
SELECT count(*) FILTER (WHERE status = 0), count(*) FILTER (WHERE status = 1), count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3) FROM idr_status

-- normalize.values
SELECT eid, dup, kind, nullif(CASE WHEN CASE kind WHEN 0 THEN regexp_like(clean, concat('^(?:', '[^@\t\n\f\r ]+@[^@\t\n\f\r .]+(\.[^@\t\n\f\r .]+)+', ')$')) ELSE TRUE END THEN clean END, '') AS value_norm, CASE WHEN length(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) = octet_length(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) THEN lower(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) ELSE idr_lower(CASE WHEN kind IN (2) THEN CASE WHEN (ascii(clean) <= 32 OR ascii(clean) = 160) OR (ascii(substring(clean, -1, 1)) <= 32 OR ascii(substring(clean, -1, 1)) = 160) THEN regexp_replace(clean, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE clean END ELSE clean END) END AS ph_key FROM (SELECT eid, dup, kind, CASE kind WHEN 0 THEN CASE WHEN length(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) = octet_length(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) THEN lower(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) ELSE idr_lower(idr_nfc(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END)) END WHEN 1 THEN CASE WHEN length(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) = octet_length(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) THEN lower(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) ELSE idr_lower(CASE WHEN (ascii(raw_value) <= 32 OR ascii(raw_value) = 160) OR (ascii(substring(raw_value, -1, 1)) <= 32 OR ascii(substring(raw_value, -1, 1)) = 160) THEN regexp_replace(raw_value, '^[\s\x0b\xa0]+|[\s\x0b\xa0]+$', '') ELSE raw_value END) END WHEN 2 THEN raw_value END AS clean FROM idr_raw_ids WHERE kind IN (0, 1, 2)) AS idr_c

-- publish.full.identity_clusters_current
SELECT resolved_id, cluster_size, :run_id, :ts FROM idr_proposed_clusters

-- publish.full.identity_identifier_pairs_current
SELECT i.eid, t.identifier_type, i.value_norm, :run_id FROM idr_ids i JOIN idr_types t USING (type_idx)

-- publish.full.identity_resolved_membership_current
SELECT entity_key, resolved_id, table_id, :run_id, :ts, entity_id FROM idr_proposed_membership

-- publish.full.identity_skipped_groups_current
SELECT identifier_type, identifier_value_norm, group_size, max_allowed, :run_id FROM idr_skipped

-- publish.incr.identity_clusters_current
SELECT resolved_id, cluster_size FROM idr_proposed_clusters

-- publish.incr.identity_identifier_pairs_current
SELECT n.entity_id, t.identifier_type, n.value_norm FROM idr_new_ids n JOIN idr_types t USING (type_idx)

-- publish.incr.identity_resolved_membership_current
SELECT entity_key, resolved_id, table_id, entity_id FROM idr_proposed_membership

-- publish.incr.identity_skipped_groups_current
SELECT identifier_type, value_norm, new_size, max_size FROM idr_group_change WHERE new_size > max_size

-- publish.skipped_groups_insert
INSERT INTO idr_out.skipped_identifier_groups (run_id, identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, reason) SELECT :run_id, identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, 'group_size ' || group_size || ' > max_group_size ' || max_allowed FROM idr_skipped

-- schema.edges_view
WITH idr_holders AS (SELECT i.* FROM "idr_out"."identity_identifiers_current" i LEFT ANTI JOIN "idr_out"."identity_skipped_groups_current" s ON s.identifier_type = i.identifier_type AND s.identifier_value_norm = i.identifier_value_norm) SELECT h.identifier_type, h.identifier_value_norm, h.entity_key, g.anchor_entity_key, h.run_id FROM idr_holders h JOIN (  SELECT identifier_type, identifier_value_norm, min_by(entity_key, struct(CAST(conv(substr(md5(entity_key), 1, 15), 16, 10) AS BIGINT), entity_key)) AS anchor_entity_key FROM idr_holders GROUP BY identifier_type, identifier_value_norm HAVING count(*) > 1) g USING (identifier_type, identifier_value_norm) WHERE h.entity_key <> g.anchor_entity_key

-- schema.identifiers_view
SELECT m.entity_key, p.identifier_type, p.identifier_value_norm, p.run_id FROM "idr_out"."identity_identifier_pairs_current" p JOIN "idr_out"."identity_resolved_membership_current" m USING (entity_id)

-- scope.carried
SELECT entity_key, table_id, entity_id FROM idr_scope_old WHERE entity_key NOT IN (SELECT entity_key FROM idr_delta_keys)

-- scope.carried_ids
SELECT c.eid, CAST(t.type_idx AS SMALLINT) AS type_idx, i.identifier_value_norm AS value_norm FROM "idr_out"."identity_identifier_pairs_current" i JOIN idr_carried c USING (entity_id) JOIN idr_types t USING (identifier_type)

-- scope.changed_pairs
SELECT entity_id, type_idx, value_norm, 1 AS change FROM (SELECT entity_id, type_idx, value_norm FROM idr_new_ids EXCEPT SELECT entity_id, type_idx, value_norm FROM idr_old_ids) AS a UNION ALL SELECT entity_id, type_idx, value_norm, -1 AS change FROM (SELECT entity_id, type_idx, value_norm FROM idr_old_ids EXCEPT SELECT entity_id, type_idx, value_norm FROM idr_new_ids) AS r

-- scope.delta_old
SELECT entity_key, entity_id, resolved_id FROM "idr_out"."identity_resolved_membership_current" WHERE entity_key IN (SELECT entity_key FROM idr_delta_keys)

-- scope.group_change
SELECT v.type_idx, v.value_norm, v.change, v.skipped_size, v.max_size, v.identifier_type, coalesce(v.skipped_size, h.n, 0) + v.change AS new_size FROM idr_value_change v LEFT JOIN (  SELECT type_idx, value_norm, count(*) AS n FROM idr_hits GROUP BY type_idx, value_norm) h USING (type_idx, value_norm)

-- scope.group_sizes
SELECT type_idx, value_norm, new_size AS n FROM idr_group_change WHERE skipped_size IS NOT NULL UNION ALL SELECT t.type_idx, s.identifier_value_norm, s.group_size FROM "idr_out"."identity_skipped_groups_current" s JOIN idr_types t USING (identifier_type) LEFT ANTI JOIN idr_group_change g ON g.type_idx = t.type_idx AND g.value_norm = s.identifier_value_norm

-- scope.hits
SELECT entity_id, type_idx, identifier_value_norm AS value_norm FROM idr_published_pairs WHERE probed UNION SELECT entity_id, type_idx, value_norm FROM idr_old_ids

-- scope.new_ids
SELECT DISTINCT e.entity_id, s.type_idx, s.value_norm FROM idr_status s JOIN idr_entities e USING (eid) WHERE s.status = 0

-- scope.numbered_entities
SELECT e.entity_key, e.table_id, e.eid, coalesce(o.entity_id, n.entity_id) AS entity_id FROM idr_entities e LEFT JOIN idr_delta_old o USING (entity_key) LEFT JOIN (  SELECT entity_key, 1000 + row_number() OVER (ORDER BY entity_key) - 1 AS entity_id   FROM idr_entities LEFT ANTI JOIN idr_delta_old USING (entity_key)) n USING (entity_key)

-- scope.old_ids
SELECT entity_id, type_idx, identifier_value_norm AS value_norm FROM idr_published_pairs WHERE own

-- scope.probe_values
SELECT DISTINCT t.identifier_type, n.type_idx, n.value_norm FROM idr_new_ids n JOIN idr_types t USING (type_idx) LEFT ANTI JOIN "idr_out"."identity_skipped_groups_current" s ON s.identifier_type = t.identifier_type AND s.identifier_value_norm = n.value_norm

-- scope.published_pairs
SELECT i.entity_id, i.identifier_type, i.identifier_value_norm, i.run_id, CAST(t.type_idx AS SMALLINT) AS type_idx, o.entity_id IS NOT NULL AS own, p.value_norm IS NOT NULL AS probed FROM "idr_out"."identity_identifier_pairs_current" i JOIN idr_types t USING (identifier_type) LEFT JOIN idr_delta_old o ON o.entity_id = i.entity_id LEFT JOIN idr_probe_values p ON p.identifier_type = i.identifier_type AND p.value_norm = i.identifier_value_norm WHERE o.entity_id IS NOT NULL OR p.value_norm IS NOT NULL

-- scope.removed_entities
SELECT entity_key FROM idr_delta_old LEFT ANTI JOIN idr_entities USING (entity_key)

-- scope.scope_clusters
SELECT resolved_id FROM idr_delta_old WHERE entity_id IN (SELECT entity_id FROM idr_changed_pairs)   OR entity_key IN (SELECT entity_key FROM idr_removed_entities) UNION SELECT resolved_id FROM "idr_out"."identity_resolved_membership_current" WHERE entity_id IN (SELECT entity_id FROM idr_value_holders)

-- scope.scope_entities
SELECT entity_key, table_id, eid, entity_id FROM idr_entities WHERE entity_id IN (SELECT entity_id FROM idr_scope_old) OR entity_id NOT IN (SELECT entity_id FROM idr_delta_old) UNION ALL SELECT entity_key, table_id, eid, entity_id FROM idr_carried

-- scope.scope_ids
SELECT eid, type_idx, value_norm FROM idr_status WHERE status = 0 AND NOT dup UNION ALL SELECT DISTINCT eid, type_idx, value_norm FROM idr_status WHERE status = 0 AND dup UNION ALL SELECT eid, type_idx, value_norm FROM idr_carried_ids

-- scope.scope_old
SELECT * FROM "idr_out"."identity_resolved_membership_current" WHERE resolved_id IN (SELECT resolved_id FROM idr_scope_clusters)

-- scope.scope_status
SELECT eid, type_idx, value_norm, dup, status FROM idr_status WHERE eid IN (SELECT eid FROM idr_entities)

-- scope.value_change
SELECT p.type_idx, p.value_norm, sum(p.change) AS change, any_value(s.group_size) AS skipped_size,   any_value(t.max_group_size) AS max_size, any_value(t.identifier_type) AS identifier_type FROM idr_changed_pairs p JOIN idr_types t USING (type_idx) LEFT JOIN "idr_out"."identity_skipped_groups_current" s ON s.identifier_type = t.identifier_type AND s.identifier_value_norm = p.value_norm GROUP BY p.type_idx, p.value_norm

-- scope.value_holders
SELECT h.entity_id, h.type_idx, h.value_norm FROM idr_hits h LEFT SEMI JOIN (SELECT type_idx, value_norm FROM idr_value_change WHERE skipped_size IS NULL) v ON v.type_idx = h.type_idx AND v.value_norm = h.value_norm

-- scope.value_holders_reopened
SELECT h.entity_id, h.type_idx, h.value_norm FROM idr_hits h LEFT SEMI JOIN (SELECT type_idx, value_norm FROM idr_value_change WHERE skipped_size IS NULL) v ON v.type_idx = h.type_idx AND v.value_norm = h.value_norm UNION ALL SELECT i.entity_id, v.type_idx, v.value_norm FROM "idr_out"."identity_identifier_pairs_current" i JOIN (SELECT type_idx, value_norm, identifier_type FROM idr_value_change WHERE skipped_size IS NOT NULL AND skipped_size + change <= max_size) v ON i.identifier_type = v.identifier_type AND i.identifier_value_norm = v.value_norm

