-- title: Phone numbers shared by several users
-- description: Phone numbers that Okta called or texted for several different users. A family or a shared desk
--   phone explains two or three; one number enrolled on many accounts is an attacker's phone registered on
--   compromised or fake accounts, or a pumping number. Masked numbers (with x digits) are left out: they are
--   not one number.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param min_users: List numbers used for at least this many users. Default: 3.
-- param limit: How many numbers to list. Default: 50.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    CAST(coalesce(nullif(:min_users, ''), 3) AS INTEGER) AS min_users,
    CAST(coalesce(nullif(:limit, ''), 50) AS INTEGER) AS max_rows
),
-- Sends grouped by (event type, user, client IP, phone number) in the order of the index on those columns,
-- so SQLite aggregates as it reads instead of sorting every send.
triples AS (
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*) AS sends,
         sum(e.outcome_result = 'DENY') AS denied, min(e.published) AS first_send, max(e.published) AS last_send
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.phone_number IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
  UNION ALL
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*),
         sum(e.outcome_result = 'DENY'), min(e.published), max(e.published)
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.phone_number IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
),
per_number AS (
  SELECT
    phone_number,
    count(DISTINCT user_id) AS users,
    sum(sends) AS sends,
    sum(denied) AS denied,
    count(DISTINCT client_ip) AS ips,
    min(first_send) AS first_send,
    max(last_send) AS last_send,
    json_group_array(DISTINCT user_id) AS user_ids
  FROM triples
  WHERE phone_number NOT LIKE '%x%'
  GROUP BY phone_number
  HAVING count(DISTINCT user_id) >= (SELECT min_users FROM params)
)
SELECT
  n.phone_number,
  ph.phone_country,
  ph.country_calling_code,
  n.users,
  n.sends,
  n.denied,
  n.ips,
  n.first_send,
  n.last_send,
  (SELECT group_concat(coalesce(us.alternate_id, j.value), ', ')
   FROM json_each(n.user_ids) j
   LEFT JOIN users us ON us.id = j.value) AS users_list
FROM per_number n
LEFT JOIN phones ph ON ph.phone_number = n.phone_number
ORDER BY n.users DESC, n.sends DESC, n.phone_number
LIMIT (SELECT max_rows FROM params)
