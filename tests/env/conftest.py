from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture(scope="session")
def isolation_ok():
    from rlvr.sandbox import probe_isolation

    feats = probe_isolation()
    if not (feats.get("userns") and feats.get("pidns") and feats.get("seccomp") and feats.get("landlock_abi")):
        pytest.skip("the kernel lacks what the namespaces sandbox needs")
    return True


@pytest.fixture()
def shop_db(tmp_path):
    path = tmp_path / "shop.db"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INTEGER);"
                      "INSERT INTO items VALUES (1,'apple',0.5,10),(2,'pear',0.75,4),(3,'melon',3.0,2);")
    con.commit()
    con.close()
    return path
