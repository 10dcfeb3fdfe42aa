-- Up Migration

-- Which two uploads each state pair's match records were last evaluated with. An evaluation is a function of the two
-- uploads (immutable once active) and the records: evaluating the same two again changes nothing. Over a national
-- load most runs came late enough to find their partners active, so nearly every pair was evaluated from both sides;
-- a run now skips a pair whose two active uploads are the ones recorded here (written with the records, under the
-- pair lock, in the same transaction).
CREATE TABLE bulkflow.pair_evaluations (
  state_a      text COLLATE "C" NOT NULL,
  state_b      text COLLATE "C" NOT NULL,
  upload_a     text NOT NULL,
  upload_b     text NOT NULL,
  evaluated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (state_a, state_b),
  CHECK (state_a < state_b)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON bulkflow.pair_evaluations TO bulkflow_app;

-- Down Migration

DROP TABLE bulkflow.pair_evaluations;
