-- title: Calls per day by outcome
-- description: Voice calls and SMS that Okta sent (every system.voice.send_* and system.sms.send_* event) per
--   UTC day, by channel and by outcome, with the share Okta blocked (DENY) and the day's telephony rate-limit
--   violations (system.operation.rate_limit.violation, subtype SMS or Voice call). A jump in sends or in the
--   DENY share is the first sign of SMS/voice pumping or of a script hammering a sign-in flow; a day missing
--   from the list means the archive received nothing that day.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until
),
sends AS (
  SELECT substr(e.published, 1, 10) AS day, e.event_type, e.outcome_result
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT substr(e.published, 1, 10), e.event_type, e.outcome_result
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
),
per_day AS (
  SELECT
    day,
    count(*) AS sends,
    sum(event_type >= 'system.voice.') AS voice,
    sum(outcome_result = 'SUCCESS') AS success,
    sum(outcome_result = 'FAILURE') AS failure,
    sum(outcome_result = 'DENY') AS deny
  FROM sends
  GROUP BY day
),
limits AS (
  SELECT substr(e.published, 1, 10) AS day, count(*) AS rate_limited
  FROM events e, params p
  WHERE e.event_type = 'system.operation.rate_limit.violation'
    AND e.rate_limit_subtype IN ('SMS', 'Voice call')
    AND e.published >= p.since AND e.published < p.until
  GROUP BY day
)
SELECT
  d.day,
  d.sends,
  d.voice,
  d.sends - d.voice AS sms,
  d.success,
  d.failure,
  d.deny,
  d.sends - d.success - d.failure - d.deny AS other,
  round(100.0 * d.deny / d.sends, 2) AS deny_pct,
  coalesce(l.rate_limited, 0) AS rate_limited
FROM per_day d
LEFT JOIN limits l ON l.day = d.day
ORDER BY d.day
