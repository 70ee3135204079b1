-- The dictionaries sign-in documents are compressed with (docdict.go):
-- learned from the store's first sign-ins and kept as long as a document
-- may name one. A document names its dictionary by id.
CREATE TABLE doc_dicts (
    id         INTEGER NOT NULL PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    dict       BLOB    NOT NULL
);
