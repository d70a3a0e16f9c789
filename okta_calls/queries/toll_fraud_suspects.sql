-- title: Toll-fraud suspects
-- description: A ranked list of the client IP addresses, users and phone numbers that look most like SMS/voice
--   pumping (International Revenue Share Fraud) or abuse of Okta's phone factors. No public detection rule
--   (Sigma, Elastic, Splunk, Panther) covers this, so okta-calls combines the signals in Okta's own events into
--   one score and names the ones that fired. Points: up to 3 for reaching more phone numbers than there are
--   people within one window of window_minutes minutes (a busy office behind one NAT address reaches one number
--   per user); up to 5 for one number used by several users; up to 3 for bursts (one user sending to one number
--   from one address again and again: sends per window over the time it lasted); up to 2 for the share of sends
--   Okta blocked (DENY, full marks at 25%); up to 1 each for telephony rate-limit violations, high-cost
--   destinations (calling_codes.high_cost), proxies (securityContext.isProxy) and failed delivery reports
--   (receive_status per accepted send). Shares count in full from 10 sends on. A score is a reason to look, not
--   proof: open the entity's events.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param window_minutes: Length of the windows for bursts and for numbers reached, in minutes. Default: 30.
-- param min_score: List entities scoring at least this much. Default: 1.
-- param limit: How many entities to list. Default: 50.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    max(1, CAST(coalesce(nullif(:window_minutes, ''), 30) AS INTEGER)) * 60 AS window_seconds,
    CAST(coalesce(nullif(:min_score, ''), 1) AS REAL) AS min_score,
    CAST(coalesce(nullif(:limit, ''), 50) AS INTEGER) AS max_rows
),
-- Sends grouped by (event type, user, client IP, phone number), in the order of the index on those columns:
-- SQLite aggregates as it reads, without sorting the sends. Everything below works on these few groups.
-- Columns that are the same for a whole group (a number's country, an address's location) are taken as they
-- are, without an aggregate (SQLite reads such a bare column once per group).
triples AS MATERIALIZED (
  SELECT
    e.event_type, e.user_id, e.client_ip, e.phone_number,
    count(*) AS sends,
    sum(e.outcome_result = 'DENY') AS denied,
    sum(e.is_proxy = 1) AS proxied,
    min(e.published) AS first_send,
    max(e.published) AS last_send,
    e.phone_country AS phone_country,
    e.country_calling_code AS country_calling_code
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
  UNION ALL
  SELECT
    e.event_type, e.user_id, e.client_ip, e.phone_number,
    count(*),
    sum(e.outcome_result = 'DENY'),
    sum(e.is_proxy = 1),
    min(e.published),
    max(e.published),
    e.phone_country,
    e.country_calling_code
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
),
high_cost AS (
  SELECT iso2 AS country, NULL AS code FROM calling_codes WHERE high_cost = 1 AND iso2 IS NOT NULL
  UNION
  SELECT NULL, code FROM calling_codes WHERE high_cost = 1 AND iso2 IS NULL
),
triples_flagged AS MATERIALIZED (
  SELECT
    t.*,
    -- sends per window over the time this user sent to this number from this address
    1.0 * t.sends / max(1.0, (julianday(t.last_send) - julianday(t.first_send)) * 86400 / (SELECT window_seconds FROM params)) AS burst,
    CASE WHEN t.phone_country IN (SELECT country FROM high_cost)
           OR (t.phone_country IS NULL AND t.country_calling_code IN (SELECT code FROM high_cost))
         THEN t.sends ELSE 0 END AS high_cost_sends
  FROM triples t
),
-- Telephony rate-limit violations, few enough to group directly.
limits AS MATERIALIZED (
  SELECT e.user_id, e.client_ip, e.phone_number, count(*) AS rate_limited
  FROM events e, params p
  WHERE e.event_type = 'system.operation.rate_limit.violation'
    AND e.rate_limit_subtype IN ('SMS', 'Voice call')
    AND e.published >= p.since AND e.published < p.until
  GROUP BY e.user_id, e.client_ip, e.phone_number
),
-- For each user and each IP: the first send to each number, then the window of window_minutes minutes that
-- starts at one of those first sends and reaches the most numbers (and how many different users sent them).
firsts AS MATERIALIZED (
  SELECT kind, key, phone_number, user_id, first_send,
         strftime('%Y-%m-%dT%H:%M:%fZ', first_send, '+' || (SELECT window_seconds FROM params) || ' seconds') AS window_end
  FROM (
    SELECT 'user' AS kind, user_id AS key, phone_number, user_id, min(first_send) AS first_send
    FROM triples WHERE user_id IS NOT NULL AND phone_number IS NOT NULL
    GROUP BY user_id, phone_number
    UNION ALL
    SELECT 'ip', client_ip, phone_number, user_id, min(first_send)
    FROM triples WHERE client_ip IS NOT NULL AND phone_number IS NOT NULL
    GROUP BY client_ip, phone_number, user_id
  )
),
-- Only keys with more numbers than users can score here (an office behind one NAT address cannot).
multi AS (
  SELECT kind, key FROM firsts GROUP BY kind, key
  HAVING count(DISTINCT phone_number) > count(DISTINCT user_id)
),
spans AS (
  SELECT a.kind, a.key, a.first_send AS window_start,
         count(DISTINCT b.phone_number) AS numbers, count(DISTINCT b.user_id) AS users
  FROM multi m
  JOIN firsts a ON a.kind = m.kind AND a.key = m.key
  JOIN firsts b ON b.kind = a.kind AND b.key = a.key
   AND b.first_send >= a.first_send AND b.first_send < a.window_end
  GROUP BY a.kind, a.key, a.first_send
),
peaks AS (
  SELECT kind, key, max(numbers - users) AS extra_numbers, max(numbers) AS window_numbers
  FROM spans GROUP BY kind, key
),
entities AS (
  SELECT 'user' AS kind, t.user_id AS key,
         sum(t.sends) AS sends, count(DISTINCT t.phone_number) AS numbers, count(DISTINCT t.user_id) AS users,
         count(DISTINCT t.client_ip) AS ips, sum(t.denied) AS denied, sum(t.proxied) AS proxied,
         sum(t.high_cost_sends) AS high_cost_sends, max(t.burst) AS burst,
         min(t.first_send) AS first_send, max(t.last_send) AS last_send
  FROM triples_flagged t WHERE t.user_id IS NOT NULL GROUP BY t.user_id
  UNION ALL
  SELECT 'ip', t.client_ip,
         sum(t.sends), count(DISTINCT t.phone_number), count(DISTINCT t.user_id),
         count(DISTINCT t.client_ip), sum(t.denied), sum(t.proxied),
         sum(t.high_cost_sends), max(t.burst),
         min(t.first_send), max(t.last_send)
  FROM triples_flagged t WHERE t.client_ip IS NOT NULL GROUP BY t.client_ip
  UNION ALL
  SELECT 'phone', t.phone_number,
         sum(t.sends), count(DISTINCT t.phone_number), count(DISTINCT t.user_id),
         count(DISTINCT t.client_ip), sum(t.denied), sum(t.proxied),
         sum(t.high_cost_sends), max(t.burst),
         min(t.first_send), max(t.last_send)
  FROM triples_flagged t WHERE t.phone_number IS NOT NULL AND t.phone_number NOT LIKE '%x%' GROUP BY t.phone_number
),
extras AS (
  SELECT e.*,
    coalesce(CASE e.kind
      WHEN 'user' THEN (SELECT sum(rate_limited) FROM limits l WHERE l.user_id = e.key)
      WHEN 'ip' THEN (SELECT sum(rate_limited) FROM limits l WHERE l.client_ip = e.key)
      ELSE (SELECT sum(rate_limited) FROM limits l WHERE l.phone_number = e.key) END, 0) AS rate_limited,
    coalesce(pk.extra_numbers, 0) AS extra_numbers,
    pk.window_numbers,
    min(1.0, e.sends / 10.0) AS confidence
  FROM entities e
  LEFT JOIN peaks pk ON pk.kind = e.kind AND pk.key = e.key
),
scored AS (
  SELECT x.*,
    CASE WHEN x.kind = 'phone' THEN 0 ELSE 3 * min(1.0, max(0, x.extra_numbers) / 4.0) END AS p_numbers,
    CASE WHEN x.kind = 'phone' THEN 5 * min(1.0, (x.users - 1) / 4.0) ELSE 0 END AS p_shared,
    3 * min(1.0, max(0, x.burst - 2) / 8.0) AS p_burst,
    2 * min(1.0, 4.0 * x.denied / x.sends) * x.confidence AS p_deny,
    min(1.0, x.rate_limited / 3.0) AS p_limits,
    min(1.0, 1.0 * x.high_cost_sends / x.sends) * x.confidence AS p_high_cost,
    min(1.0, 1.0 * x.proxied / x.sends) * x.confidence AS p_proxy
  FROM extras x
),
partial AS MATERIALIZED (
  SELECT s.*, s.p_numbers + s.p_shared + s.p_burst + s.p_deny + s.p_limits + s.p_high_cost + s.p_proxy AS partial_score
  FROM scored s
),
-- The last signal, failed delivery reports, adds at most 1 point: it is looked up only for the entities that
-- can still reach min_score and the top `limit` with it.
cutoff AS (
  SELECT max(
    (SELECT min_score FROM params),
    coalesce((SELECT partial_score FROM partial ORDER BY partial_score DESC
              LIMIT 1 OFFSET (SELECT max_rows - 1 FROM params)), -1)
  ) - 1 AS score
),
candidates AS MATERIALIZED (
  SELECT c.*,
    CASE c.kind
      WHEN 'user' THEN (
        SELECT count(*) FROM events e
        WHERE e.event_type IN ('system.sms.receive_status', 'system.voice.receive_status') AND e.user_id = c.key
          AND +e.published >= p.since AND +e.published < p.until
          AND lower(coalesce(e.delivery_status, '')) NOT IN
              ('delivered', 'completed', 'sent', 'queued', 'accepted', 'sending', 'ringing', 'in-progress', 'initiated'))
      WHEN 'ip' THEN (
        SELECT count(*) FROM events e
        WHERE e.client_ip = c.key AND e.event_type IN ('system.sms.receive_status', 'system.voice.receive_status')
          AND +e.published >= p.since AND +e.published < p.until
          AND lower(coalesce(e.delivery_status, '')) NOT IN
              ('delivered', 'completed', 'sent', 'queued', 'accepted', 'sending', 'ringing', 'in-progress', 'initiated'))
      ELSE (
        SELECT count(*) FROM events e
        WHERE e.phone_number = c.key AND e.event_type IN ('system.sms.receive_status', 'system.voice.receive_status')
          AND +e.published >= p.since AND +e.published < p.until
          AND lower(coalesce(e.delivery_status, '')) NOT IN
              ('delivered', 'completed', 'sent', 'queued', 'accepted', 'sending', 'ringing', 'in-progress', 'initiated'))
    END AS failed_reports
  FROM partial c, params p
  WHERE c.partial_score >= (SELECT score FROM cutoff)
),
ranked AS (
  SELECT c.*,
    min(1.0, 1.0 * c.failed_reports / max(1, c.sends - c.denied)) * c.confidence AS p_delivery,
    round(c.partial_score + min(1.0, 1.0 * c.failed_reports / max(1, c.sends - c.denied)) * c.confidence, 2) AS score
  FROM candidates c
)
SELECT
  r.kind,
  r.key,
  CASE r.kind
    WHEN 'user' THEN (SELECT alternate_id FROM users WHERE id = r.key)
    WHEN 'ip' THEN (SELECT coalesce(client_city || ', ', '') || coalesce(client_country, '') || coalesce(' (' || as_org || ')', '')
                    FROM events WHERE client_ip = r.key ORDER BY published DESC LIMIT 1)
    ELSE (SELECT phone_country FROM phones WHERE phone_number = r.key)
  END AS label,
  r.score,
  trim(
       CASE WHEN r.p_numbers > 0 THEN r.window_numbers || ' numbers for ' || (r.window_numbers - r.extra_numbers) || ' user(s) in one window; ' ELSE '' END
    || CASE WHEN r.p_shared > 0 THEN 'used by ' || r.users || ' users; ' ELSE '' END
    || CASE WHEN r.p_burst > 0 THEN round(r.burst, 1) || ' sends per window to one number; ' ELSE '' END
    || CASE WHEN r.p_deny >= 0.1 THEN CAST(round(100.0 * r.denied / r.sends) AS INTEGER) || '% denied; ' ELSE '' END
    || CASE WHEN r.p_limits > 0 THEN r.rate_limited || ' rate-limit violation(s); ' ELSE '' END
    || CASE WHEN r.p_high_cost >= 0.1 THEN CAST(round(100.0 * r.high_cost_sends / r.sends) AS INTEGER) || '% to high-cost destinations; ' ELSE '' END
    || CASE WHEN r.p_proxy >= 0.1 THEN CAST(round(100.0 * r.proxied / r.sends) AS INTEGER) || '% via proxies; ' ELSE '' END
    || CASE WHEN r.p_delivery >= 0.1 THEN r.failed_reports || ' failed delivery report(s); ' ELSE '' END,
    '; ') AS signals,
  r.sends,
  r.numbers,
  r.users,
  r.ips,
  r.denied,
  r.rate_limited,
  r.high_cost_sends,
  r.proxied,
  r.failed_reports,
  r.first_send,
  r.last_send
FROM ranked r, params p
WHERE r.score >= p.min_score
ORDER BY r.score DESC, r.sends DESC, r.kind, r.key
LIMIT (SELECT max_rows FROM params)
