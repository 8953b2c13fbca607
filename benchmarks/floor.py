"""The floor: a minimal hand-written DuckDB + scipy linker, timed as one process.

It does the least a deterministic linker can do on the benchmark data (SQL lower/trim and
digits-only phones, a few literal junk values, star edges by window, scipy components, one
membership table written to the file) and none of idr's work (phone validation, guards,
audit, edges, clusters, stable ids). Its time says how fast this machine is today, so idr's
numbers can be read against it:

    python benchmarks/floor.py benchmarks/data/bench_1m.duckdb
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

t0 = time.perf_counter()
import duckdb, numpy as np, pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
work = Path(tempfile.mkdtemp()) / 'floor.duckdb'
shutil.copy(sys.argv[1], work)
con = duckdb.connect(str(work)); con.execute("SET preserve_insertion_order=false")
con.execute("""CREATE TEMP TABLE ids AS
SELECT 'crm:'||customer_id AS k, 'E' t, lower(trim(email)) v FROM crm_customers UNION ALL
SELECT 'crm:'||customer_id, 'P', regexp_replace(phone, '[^0-9]', '', 'g') FROM crm_customers UNION ALL
SELECT 'orders:'||order_id, 'E', lower(trim(customer_email)) FROM orders UNION ALL
SELECT 'orders:'||order_id, 'P', regexp_replace(phone, '[^0-9]', '', 'g') FROM orders UNION ALL
SELECT 'loyalty:'||member_id, 'L', upper(trim(loyalty_id)) FROM loyalty_members UNION ALL
SELECT 'loyalty:'||member_id, 'E', lower(trim(email)) FROM loyalty_members UNION ALL
SELECT 'web:'||signup_id, 'E', lower(trim(email)) FROM web_signups""")
con.execute("CREATE TEMP TABLE ent AS SELECT k, row_number() OVER () - 1 AS eid FROM (SELECT DISTINCT k FROM ids)")
con.execute("CREATE TEMP TABLE e2 AS SELECT e.eid, i.t, i.v FROM ids i JOIN ent e USING (k) WHERE i.v IS NOT NULL AND i.v NOT IN ('', 'n/a', 'unknown', 'null', 'test@test.com')")
ed = con.execute("SELECT eid, min(eid) OVER (PARTITION BY t, v) a FROM e2").fetchnumpy()
n = con.execute("SELECT count(*) FROM ent").fetchall()[0][0]
g = coo_matrix((np.ones(len(ed['eid']), np.int8), (ed['eid'], ed['a'])), shape=(n, n))
_, lab = connected_components(g, directed=True, connection='weak')
con.register('l', pa.table({'eid': np.arange(n), 'c': lab}))
con.execute("CREATE TABLE membership AS SELECT e.k AS entity_key, min(e.k) OVER (PARTITION BY l.c) AS resolved_id FROM ent e JOIN l USING (eid)")
con.close()
print(f'floor: {time.perf_counter() - t0:.2f} s (copy of the data included)')
shutil.rmtree(work.parent)
