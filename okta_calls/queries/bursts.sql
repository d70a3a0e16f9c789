-- title: Bursts of calls and SMS per user, IP or ASN
-- description: Clock-aligned windows of window_minutes minutes in which one user, one client IP address or one
--   autonomous system (ASN) triggered at least min_sends voice calls or SMS (system.voice.send_* and
--   system.sms.send_*), ranked by sends per user in the window. Okta allows one challenge per phone number every
--   30 seconds; a person or a home address above that pace is a script, an MFA-fatigue attack or a pumping run,
--   and the DENY count shows how much Okta already stopped. A busy office behind one NAT address, or a large
--   carrier's ASN, sends a lot but about once per user. Windows start at multiples of their length since
--   1970-01-01 UTC, so a burst that straddles two windows shows in both, each with part of it.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param window_minutes: Length of a window in minutes. Default: 10.
-- param min_sends: List windows with at least this many sends. Default: 10.
-- param by: What to group by: user, ip, asn, or several separated by commas (each adds a pass over the sends). Default: ip.
-- param limit: How many windows to list. Default: 50.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    max(1, CAST(coalesce(nullif(:window_minutes, ''), 10) AS INTEGER)) * 60 AS window_seconds,
    CAST(coalesce(nullif(:min_sends, ''), 10) AS INTEGER) AS min_sends,
    ',' || replace(lower(coalesce(nullif(trim(:by), ''), 'ip')), ' ', '') || ',' AS kinds,
    CAST(coalesce(nullif(:limit, ''), 50) AS INTEGER) AS max_rows
),
-- Each send once per requested kind, tagged with its window (seconds since 1970 divided by the window length).
-- Only the count per window is kept at first: the details are looked up for the few busy windows.
sends AS (
  SELECT 'user' AS kind, e.user_id AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',user,') AND e.user_id IS NOT NULL
    AND e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT 'user' AS kind, e.user_id AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',user,') AND e.user_id IS NOT NULL
    AND e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT 'ip' AS kind, e.client_ip AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',ip,') AND e.client_ip IS NOT NULL
    AND e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT 'ip' AS kind, e.client_ip AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',ip,') AND e.client_ip IS NOT NULL
    AND e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT 'asn' AS kind, CAST(e.as_number AS TEXT) AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',asn,') AND e.as_number IS NOT NULL
    AND e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  UNION ALL
  SELECT 'asn' AS kind, CAST(e.as_number AS TEXT) AS key,
         CAST((julianday(e.published) - 2440587.5) * 86400 AS INTEGER) / p.window_seconds AS slot
  FROM events e, params p
  WHERE instr(p.kinds, ',asn,') AND e.as_number IS NOT NULL
    AND e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
),
hits AS MATERIALIZED (
  SELECT kind, key, slot, count(*) AS sends
  FROM sends
  GROUP BY kind, key, slot
  HAVING count(*) >= (SELECT min_sends FROM params)
),
bounds AS (
  SELECT h.*,
    strftime('%Y-%m-%dT%H:%M:%fZ', h.slot * p.window_seconds, 'unixepoch') AS window_start,
    strftime('%Y-%m-%dT%H:%M:%fZ', (h.slot + 1) * p.window_seconds, 'unixepoch') AS window_end
  FROM hits h, params p
),
details AS (
  -- Who and what was in each busy window, looked up through the (user_id, published), (client_ip, published)
  -- and (as_number, published) indexes: only the busy windows are read again.
  SELECT b.*,
    CASE b.kind
      WHEN 'user' THEN (
        SELECT json_object('users', count(DISTINCT e.user_id), 'numbers', count(DISTINCT e.phone_number),
                           'denied', sum(e.outcome_result = 'DENY'), 'first', min(e.published), 'last', max(e.published))
        FROM events e
        WHERE e.user_id = b.key AND e.published >= b.window_start AND e.published < b.window_end
          AND ((e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~')
               OR (e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~')))
      WHEN 'ip' THEN (
        SELECT json_object('users', count(DISTINCT e.user_id), 'numbers', count(DISTINCT e.phone_number),
                           'denied', sum(e.outcome_result = 'DENY'), 'first', min(e.published), 'last', max(e.published))
        FROM events e
        WHERE e.client_ip = b.key AND e.published >= b.window_start AND e.published < b.window_end
          AND ((e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~')
               OR (e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~')))
      ELSE (
        SELECT json_object('users', count(DISTINCT e.user_id), 'numbers', count(DISTINCT e.phone_number),
                           'denied', sum(e.outcome_result = 'DENY'), 'first', min(e.published), 'last', max(e.published))
        FROM events e
        WHERE e.as_number = CAST(b.key AS INTEGER) AND e.published >= b.window_start AND e.published < b.window_end
          AND ((e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~')
               OR (e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~')))
    END AS detail
  FROM bounds b
),
flat AS (
  SELECT d.kind, d.key, d.window_start, d.window_end, d.sends,
         json_extract(d.detail, '$.users') AS users,
         json_extract(d.detail, '$.numbers') AS numbers,
         json_extract(d.detail, '$.denied') AS denied,
         json_extract(d.detail, '$.first') AS first_send,
         json_extract(d.detail, '$.last') AS last_send
  FROM details d
)
SELECT
  f.kind,
  f.key,
  CASE f.kind
    WHEN 'user' THEN (SELECT alternate_id FROM users WHERE id = f.key)
    WHEN 'ip' THEN (SELECT coalesce(client_city || ', ', '') || coalesce(client_country, '') || coalesce(' (' || as_org || ')', '')
                    FROM events WHERE client_ip = f.key ORDER BY published DESC LIMIT 1)
    ELSE (SELECT as_org FROM events WHERE as_number = CAST(f.key AS INTEGER) AND as_org IS NOT NULL LIMIT 1)
  END AS label,
  f.window_start,
  f.window_end,
  f.sends,
  f.users,
  round(1.0 * f.sends / max(f.users, 1), 1) AS sends_per_user,
  f.numbers,
  f.denied,
  f.first_send,
  f.last_send
FROM flat f
ORDER BY sends_per_user DESC, f.sends DESC, f.kind, f.key, f.window_start
LIMIT (SELECT max_rows FROM params)
