from tests.studio.conftest import cheap_password_hashing, studio_model  # noqa: F401
