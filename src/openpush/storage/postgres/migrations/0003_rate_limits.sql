-- Request-rate buckets and daily item counters shared by every API process
-- (openpush/ratelimit.py, storage/postgres/limits.py).
--
-- rate_buckets  one token bucket per key ("org:<id>", "key:<id>"): the tokens it held at
--               ``at`` (epoch seconds of the API process that last took from it)
-- daily_items   items counted against an organization's daily quota, per UTC day
CREATE TABLE rate_buckets (
    key    text PRIMARY KEY,
    tokens double precision NOT NULL,
    at     double precision NOT NULL
);
CREATE TABLE daily_items (
    org_id text NOT NULL,
    day    text NOT NULL,
    used   bigint NOT NULL,
    PRIMARY KEY (org_id, day)
);
