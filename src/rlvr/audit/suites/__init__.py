"""Built-in adversarial suites, one module per verifier kind (``rlvr.audit.suites.<kind>``).

Each module defines ``cases(workdir: pathlib.Path) -> list[dict]``: records in the user-case form
``{"output", "answer", "should_pass", "test", ...verifier fields}``; ``workdir`` is a private
temporary folder for any files a suite needs (a SQLite database, ...).
"""
