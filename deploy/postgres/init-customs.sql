-- Runs once, when the PostgreSQL container of deploy/compose.yaml initialises its data directory:
-- the release register's role and database. The workers create their table and sequence in it.
-- Temporal's own databases are created by the temporal-schema service.
CREATE ROLE customs LOGIN PASSWORD 'customs';
CREATE DATABASE customs OWNER customs;
