-- title: Users and IPs reaching many phone numbers in a short window
-- description: For each user and each client IP address, the window of window_minutes minutes in which it
--   reached the most phone numbers for the first time (first sends to a number, system.voice.send_* and
--   system.sms.send_*, within the chosen period), with how many users those sends were for. Okta verifies a
--   person's own phone, so one user or one address going through many new numbers in minutes is the signature
--   of SMS/voice pumping (International Revenue Share Fraud) or of an attacker enrolling phones. extra_numbers
--   is numbers beyond one per user: it separates an attack from a busy office behind one NAT address, whose
--   users each reach their own number. Windows start at a first send and are exact (not clock-aligned).
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param window_minutes: Length of a window in minutes. Default: 60.
-- param min_numbers: List users and IPs reaching at least this many numbers in one window. Default: 3.
-- param limit: How many users and IPs to list. Default: 50.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    max(1, CAST(coalesce(nullif(:window_minutes, ''), 60) AS INTEGER)) * 60 AS window_seconds,
    CAST(coalesce(nullif(:min_numbers, ''), 3) AS INTEGER) AS min_numbers,
    CAST(coalesce(nullif(:limit, ''), 50) AS INTEGER) AS max_rows
),
-- Sends grouped by (event type, user, client IP, phone number) in the order of the index on those columns,
-- so SQLite aggregates as it reads instead of sorting every send.
triples AS MATERIALIZED (
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*) AS sends,
         sum(e.outcome_result = 'DENY') AS denied, min(e.published) AS first_send
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.phone_number IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
  UNION ALL
  SELECT e.event_type, e.user_id, e.client_ip, e.phone_number, count(*),
         sum(e.outcome_result = 'DENY'), min(e.published)
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until AND e.phone_number IS NOT NULL
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
),
-- The first send of each user (and of each IP, per user) to each number.
firsts AS MATERIALIZED (
  SELECT kind, key, phone_number, user_id, first_send,
         strftime('%Y-%m-%dT%H:%M:%fZ', first_send, '+' || (SELECT window_seconds FROM params) || ' seconds') AS window_end
  FROM (
    SELECT 'user' AS kind, user_id AS key, phone_number, user_id, min(first_send) AS first_send
    FROM triples WHERE user_id IS NOT NULL
    GROUP BY user_id, phone_number
    UNION ALL
    SELECT 'ip', client_ip, phone_number, user_id, min(first_send)
    FROM triples WHERE client_ip IS NOT NULL
    GROUP BY client_ip, phone_number, user_id
  )
),
candidates AS (
  SELECT kind, key FROM firsts GROUP BY kind, key
  HAVING count(DISTINCT phone_number) >= (SELECT min_numbers FROM params)
),
spans AS (
  SELECT a.kind, a.key, a.first_send AS window_start, a.window_end,
         count(DISTINCT b.phone_number) AS numbers, count(DISTINCT b.user_id) AS users
  FROM candidates c
  JOIN firsts a ON a.kind = c.kind AND a.key = c.key
  JOIN firsts b ON b.kind = a.kind AND b.key = a.key
   AND b.first_send >= a.first_send AND b.first_send < a.window_end
  GROUP BY a.kind, a.key, a.first_send
),
best AS (
  -- Per key, the window with the most numbers beyond one per user, then the most numbers, then the earliest.
  SELECT s.* FROM spans s
  WHERE s.numbers >= (SELECT min_numbers FROM params)
    AND s.window_start = (
      SELECT s2.window_start FROM spans s2 WHERE s2.kind = s.kind AND s2.key = s.key
      ORDER BY s2.numbers - s2.users DESC, s2.numbers DESC, s2.window_start LIMIT 1)
)
SELECT
  b.kind,
  b.key,
  CASE b.kind
    WHEN 'user' THEN (SELECT alternate_id FROM users WHERE id = b.key)
    ELSE (SELECT coalesce(client_city || ', ', '') || coalesce(client_country, '') || coalesce(' (' || as_org || ')', '')
          FROM events WHERE client_ip = b.key ORDER BY published DESC LIMIT 1)
  END AS label,
  b.window_start,
  b.window_end,
  b.numbers,
  b.users,
  b.numbers - b.users AS extra_numbers,
  (SELECT count(*) FROM events e
   WHERE (CASE b.kind WHEN 'user' THEN e.user_id ELSE e.client_ip END) = b.key
     AND e.published >= b.window_start AND e.published < b.window_end
     AND ((e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~')
          OR (e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'))) AS sends_in_window,
  (SELECT group_concat(phone_number, ', ') FROM (
     SELECT DISTINCT f.phone_number FROM firsts f
     WHERE f.kind = b.kind AND f.key = b.key AND f.first_send >= b.window_start AND f.first_send < b.window_end
     ORDER BY f.phone_number LIMIT 20)) AS numbers_list
FROM best b
ORDER BY b.numbers - b.users DESC, b.numbers DESC, b.kind, b.key
LIMIT (SELECT max_rows FROM params)
