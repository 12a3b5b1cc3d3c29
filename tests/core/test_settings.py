import dataclasses

import pytest

from integration.core.settings import Settings, SettingsError


def test_unknown_delegat_key_is_an_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="DELEGAT_DATABSE_URL"):
        Settings.from_env({"DELEGAT_DATABSE_URL": "sqlite://"})


def test_values_are_typed_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DELEGAT_MAX_REQUEST_BYTES": "1024",
            "DELEGAT_TESTING": "yes",
            "DELEGAT_REDIS_URL": "redis://x:1/2",
            "PATH": "/bin",
        }
    )
    assert s.max_request_bytes == 1024
    assert s.testing is True
    assert s.redis_url == "redis://x:1/2"


@pytest.mark.parametrize(
    ("key", "value"), [("DELEGAT_MAX_REQUEST_BYTES", "many"), ("DELEGAT_TESTING", "perhaps")]
)
def test_badly_typed_value_is_an_error(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_env({key: value})


def test_defaults_are_the_embedded_ones_and_settings_are_frozen() -> None:
    s = Settings.from_env({})
    assert s.database_url.startswith("sqlite:///")
    assert s.redis_url is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.testing = True  # type: ignore[misc]


def test_test_suite_keys_are_not_service_settings() -> None:
    s = Settings.from_env({"DELEGAT_TEST_DATABASE_URL": "postgresql://x/y"})
    assert not s.database_url.startswith("postgresql")
