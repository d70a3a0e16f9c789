-- title: Busiest users
-- description: The users Okta sent the most voice calls and SMS to (system.voice.send_* and system.sms.send_*),
--   with how many different phone numbers and client IP addresses those sends involved, how many Okta blocked
--   (DENY) or failed, and the first and last send. A user far above the rest is a script, an MFA-fatigue attack
--   or a misbehaving integration; several numbers for one user can mean an attacker enrolling their own phone.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param limit: How many users to list. Default: 25.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    CAST(coalesce(nullif(:limit, ''), 25) AS INTEGER) AS max_rows
),
-- Sends grouped by (event type, user, client IP, phone number) in the order of the index on those columns,
-- so SQLite aggregates as it reads instead of sorting every send.
triples AS (
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*) AS sends,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed,
         min(e.published) AS first_send, max(e.published) AS last_send
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.user_id IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
  UNION ALL
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*),
         sum(e.outcome_result = 'DENY'), sum(e.outcome_result = 'FAILURE'), min(e.published), max(e.published)
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.user_id IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
),
per_user AS (
  SELECT
    user_id,
    sum(sends) AS sends,
    sum(CASE WHEN event_type >= 'system.voice.' THEN sends ELSE 0 END) AS voice,
    count(DISTINCT phone_number) AS numbers,
    count(DISTINCT client_ip) AS ips,
    sum(denied) AS denied,
    sum(failed) AS failed,
    min(first_send) AS first_send,
    max(last_send) AS last_send
  FROM triples
  GROUP BY user_id
)
SELECT
  u.user_id,
  us.alternate_id AS user_alternate_id,
  us.display_name AS user_display_name,
  u.sends,
  u.voice,
  u.sends - u.voice AS sms,
  u.numbers,
  u.ips,
  u.denied,
  u.failed,
  u.first_send,
  u.last_send
FROM per_user u
LEFT JOIN users us ON us.id = u.user_id
ORDER BY u.sends DESC, u.user_id
LIMIT (SELECT max_rows FROM params)
