/**
 * The server as a library: build the services and the Hono app over your own
 * database (`createApp({ ...core, services: createServices(core) })`), or
 * start the whole thing as `npm start` does.
 */
export { createApp, type AppDeps } from './app.js';
export { createServices, deriveSigningKey, type CoreDeps, type Services } from './services.js';
export { startServer, type RunningServer } from './start.js';
export { loadConfig, ConfigError, type Config } from './config.js';
export { openDatabase, migrateToLatest, type DatabaseHandle, type DatabaseKind } from './db/index.js';
export { createLogger, type Logger } from './logger.js';
export { systemClock, type Clock } from './clock.js';
export { insertSpecialist, type SpecialistSeed } from './demo/seed.js';
