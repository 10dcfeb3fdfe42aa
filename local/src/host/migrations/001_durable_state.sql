-- Up Migration
-- Durable state of one task hub (the schema is named after the hub).
CREATE TABLE instances (
  instance_id text PRIMARY KEY,
  execution_id text NOT NULL,
  name text NOT NULL,
  status text NOT NULL,
  input text,
  output text,
  custom_status text,
  parent_instance_id text,
  parent_execution_id text,
  parent_task_id integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_created_at ON instances (created_at);
CREATE INDEX instances_active ON instances (instance_id) WHERE status IN ('Pending', 'Running');

-- History of the current execution; events are the extension's PascalCase JSON.
CREATE TABLE history (
  instance_id text NOT NULL,
  seq integer NOT NULL,
  event text NOT NULL,
  PRIMARY KEY (instance_id, seq)
);

-- Messages to orchestrations. Durable timers are inbox rows whose visible_at is the fire time.
-- execution_id NULL = for whichever execution is current (external events, starts).
CREATE TABLE inbox (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  execution_id text,
  event text NOT NULL,
  visible_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_instance ON inbox (instance_id, id);
CREATE INDEX inbox_visible_at ON inbox (visible_at);

-- Activity work items; claimed with a lease that the owning host renews while it runs.
CREATE TABLE activity_queue (
  id bigserial PRIMARY KEY,
  instance_id text NOT NULL,
  execution_id text NOT NULL,
  task_id integer NOT NULL,
  name text NOT NULL,
  input text NOT NULL,
  locked_by text,
  locked_until timestamptz
);

-- Entities by scheduler id "@name@key" (name lowercased, key as given).
CREATE TABLE entities (
  entity_id text PRIMARY KEY,
  name text NOT NULL,
  key text NOT NULL,
  state text,
  entity_exists boolean NOT NULL DEFAULT false,
  locked_by text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Operations, lock and release requests for entities, FIFO per entity.
CREATE TABLE entity_queue (
  id bigserial PRIMARY KEY,
  entity_id text NOT NULL,
  message text NOT NULL
);
CREATE INDEX entity_queue_entity ON entity_queue (entity_id, id);

-- Down Migration
DROP TABLE entity_queue, entities, activity_queue, inbox, history, instances;
