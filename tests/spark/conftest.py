"""Spark-only tests: one SparkSession (local[2]) for the test session, shared with the
`engine` fixture's Spark runs. `spark_engine` makes idr_testing's helpers and idr.run use
Spark for one test."""

import pytest

import idr_testing


@pytest.fixture(scope="session")
def spark_session():
    return idr_testing.spark_test_session()


@pytest.fixture
def spark_engine(spark_session, monkeypatch):
    engine = idr_testing.SparkEngine()
    monkeypatch.setattr(idr_testing, "ENGINE", engine)
    for key, value in idr_testing.SparkEngine.ENV.items():
        monkeypatch.setenv(key, value)
    return engine
