-- A tiny shop database for the SQL verifier's examples, tests and audit suite.
-- Build it:  python -c "import sqlite3; sqlite3.connect('examples/sql/shop.sqlite').executescript(open('examples/sql/shop.sql').read())"
--       or:  sqlite3 examples/sql/shop.sqlite < examples/sql/shop.sql
CREATE TABLE customers (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    city    TEXT,             -- NULL for one customer: tests NULL handling
    joined  TEXT NOT NULL     -- ISO date
);
CREATE TABLE products (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    category TEXT NOT NULL,
    price    REAL NOT NULL
);
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id  INTEGER NOT NULL REFERENCES products(id),
    qty         INTEGER NOT NULL,
    discount    REAL            -- NULL when no discount applied
);
INSERT INTO customers VALUES
    (1, 'Alice', 'Paris', '2023-01-15'),
    (2, 'Bob', 'Lyon', '2023-02-01'),
    (3, 'Chloe', 'Paris', '2023-03-10'),
    (4, 'David', 'Berlin', '2023-03-22'),
    (5, 'Emma', 'Lyon', '2023-05-05'),
    (6, 'Farid', NULL, '2023-06-30'),
    (7, 'Grace', 'Paris', '2023-07-14'),
    (8, 'Hugo', 'Madrid', '2023-09-01');
INSERT INTO products VALUES
    (1, 'kite', 'toys', 12.5),
    (2, 'puzzle', 'toys', 19.99),
    (3, 'robot', 'toys', 49.9),
    (4, 'teapot', 'kitchen', 24.0),
    (5, 'knife', 'kitchen', 35.25),
    (6, 'mug', 'kitchen', 7.1),
    (7, 'novel', 'books', 14.3),
    (8, 'atlas', 'books', 31.7);
INSERT INTO orders VALUES
    (1, 1, 1, 2, NULL),
    (2, 1, 4, 1, 0.1),
    (3, 2, 3, 1, NULL),
    (4, 3, 2, 3, 0.05),
    (5, 3, 7, 1, NULL),
    (6, 4, 5, 2, 0.2),
    (7, 5, 6, 6, NULL),
    (8, 5, 1, 1, NULL),
    (9, 7, 8, 1, 0.15),
    (10, 7, 3, 2, NULL),
    (11, 8, 6, 4, 0.1),
    (12, 1, 7, 1, NULL),
    (13, 2, 2, 2, NULL),
    (14, 4, 4, 1, 0.05),
    (15, 1, 5, 3, NULL);
