export { openDatabase, isPostgresUrl, isUniqueViolation, type DatabaseHandle, type DatabaseKind } from './connection.js';
export { migrateToLatest } from './migrate.js';
export type * from './schema.js';
