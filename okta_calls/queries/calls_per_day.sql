-- title: Calls per day by outcome
-- description: Voice calls and SMS that Okta sent (every system.voice.send_* and system.sms.send_* event),
--   per UTC day, split by channel and by outcome, with the share Okta blocked (DENY) and the telephony
--   rate-limit violations of the day. A jump in sends or in the DENY share is the first sign of SMS/voice
--   pumping or of a script hammering a login flow; a fall to zero means the archive stopped receiving events.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
WITH bounds AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until
),
sends AS (
  SELECT substr(e.published, 1, 10) AS day, e.event_type, e.outcome_result
  FROM events e, bounds b
  WHERE (e.event_type BETWEEN 'system.sms.send_' AND 'system.sms.send_~'
         OR e.event_type BETWEEN 'system.voice.send_' AND 'system.voice.send_~')
    AND e.published >= b.since AND e.published < b.until
),
per_day AS (
  SELECT
    day,
    count(*) AS sends,
    sum(event_type >= 'system.voice.') AS voice,
    sum(event_type < 'system.voice.') AS sms,
    sum(outcome_result = 'SUCCESS') AS success,
    sum(outcome_result = 'FAILURE') AS failure,
    sum(outcome_result = 'DENY') AS deny,
    sum(outcome_result IS NULL OR outcome_result NOT IN ('SUCCESS', 'FAILURE', 'DENY')) AS other
  FROM sends
  GROUP BY day
),
limits AS (
  SELECT substr(e.published, 1, 10) AS day, count(*) AS rate_limited
  FROM events e, bounds b
  WHERE e.event_type = 'system.operation.rate_limit.violation'
    AND e.rate_limit_subtype IN ('SMS', 'Voice call')
    AND e.published >= b.since AND e.published < b.until
  GROUP BY day
)
SELECT
  p.day,
  p.sends,
  p.voice,
  p.sms,
  p.success,
  p.failure,
  p.deny,
  p.other,
  round(100.0 * p.deny / p.sends, 2) AS deny_pct,
  coalesce(l.rate_limited, 0) AS rate_limited
FROM per_day p
LEFT JOIN limits l ON l.day = p.day
ORDER BY p.day
