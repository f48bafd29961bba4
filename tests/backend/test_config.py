"""Configuration: secrets are required outside testing and the demo."""
import pytest

from backend.config import ConfigurationError, load_config


def test_a_missing_secret_stops_start_up_with_a_clear_message():
    with pytest.raises(ConfigurationError, match="SECRET_KEY, JWT_SECRET_KEY"):
        load_config(environ={})


def test_the_demo_runs_without_secrets_on_sqlite():
    config = load_config(environ={"CADENCE_DEMO": "1"})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


def test_postgres_urls_use_psycopg_3():
    config = load_config(environ={"SECRET_KEY": "a", "JWT_SECRET_KEY": "b", "DATABASE_URL": "postgresql://u@h/db"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_token_lifetimes_default_to_15_minutes_and_30_days():
    config = load_config(environ={"CADENCE_TESTING": "1"})
    assert config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds() == 15 * 60
    assert config["JWT_REFRESH_TOKEN_EXPIRES"].days == 30


def test_json_compression_offers_gzip_then_brotli_and_refuses_unknown_encodings():
    config = load_config({"CADENCE_TESTING": "1"})
    assert (config["COMPRESS_ALGORITHM"], config["COMPRESS_MIN_SIZE"]) == (["gzip", "br"], 1024)
    assert load_config({"CADENCE_TESTING": "1", "COMPRESS_ALGORITHM": "br"})["COMPRESS_ALGORITHM"] == ["br"]
    with pytest.raises(ConfigurationError, match="COMPRESS_ALGORITHM"):
        load_config({"CADENCE_TESTING": "1", "COMPRESS_ALGORITHM": "gzip,lzma"})
    with pytest.raises(ConfigurationError, match="COMPRESS_MIN_SIZE"):
        load_config({"CADENCE_TESTING": "1", "COMPRESS_MIN_SIZE": "big"})
