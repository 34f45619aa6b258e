import type { Kysely } from 'kysely';

// Migrations take Kysely<any>: they describe the schema at one point in time
// and must not change when the current types do.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('specialists')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('allowed_origins', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('slot_step_minutes', 'integer', (c) => c.notNull().defaultTo(30))
    .addColumn('min_notice_minutes', 'integer', (c) => c.notNull().defaultTo(120))
    .addColumn('booking_horizon_days', 'integer', (c) => c.notNull().defaultTo(60))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('services')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('specialist_id', 'text', (c) => c.notNull().references('specialists.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('duration_minutes', 'integer', (c) => c.notNull())
    .addColumn('price_cents', 'integer')
    .addColumn('currency', 'text')
    .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('is_active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('services_specialist_idx').on('services').columns(['specialist_id', 'position']).execute();

  await db.schema
    .createTable('availability_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('specialist_id', 'text', (c) => c.notNull().references('specialists.id').onDelete('cascade'))
    .addColumn('weekday', 'integer', (c) => c.notNull())
    .addColumn('start_minute', 'integer', (c) => c.notNull())
    .addColumn('end_minute', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('availability_specialist_idx').on('availability_rules').column('specialist_id').execute();

  await db.schema
    .createTable('bookings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('specialist_id', 'text', (c) => c.notNull().references('specialists.id').onDelete('cascade'))
    .addColumn('service_id', 'text', (c) => c.notNull().references('services.id'))
    .addColumn('customer_name', 'text', (c) => c.notNull())
    .addColumn('customer_email', 'text', (c) => c.notNull())
    .addColumn('customer_note', 'text')
    .addColumn('customer_time_zone', 'text')
    .addColumn('start_at', 'text', (c) => c.notNull())
    .addColumn('end_at', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('zoom_meeting_id', 'text')
    .addColumn('zoom_join_url', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('request_fingerprint', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    // NULL keys are distinct in both databases, so requests without a key never collide.
    .addUniqueConstraint('bookings_idempotency_key_unique', ['specialist_id', 'idempotency_key'])
    .execute();
  await db.schema.createIndex('bookings_specialist_start_idx').on('bookings').columns(['specialist_id', 'start_at']).execute();

  await db.schema
    .createTable('booking_slot_claims')
    .addColumn('specialist_id', 'text', (c) => c.notNull())
    .addColumn('block_start', 'integer', (c) => c.notNull())
    .addColumn('booking_id', 'text', (c) => c.notNull().references('bookings.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('booking_slot_claims_pk', ['specialist_id', 'block_start'])
    .execute();
  await db.schema.createIndex('booking_slot_claims_booking_idx').on('booking_slot_claims').column('booking_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['booking_slot_claims', 'bookings', 'availability_rules', 'services', 'specialists']) {
    await db.schema.dropTable(table).execute();
  }
}
