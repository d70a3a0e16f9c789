-- title: Calls per destination country
-- description: Voice calls and SMS per destination country of the phone number (ISO 3166-1 code from the
--   number itself, so +1 876 is Jamaica, not the United States), with how many Okta blocked (DENY) and failed,
--   how many users and numbers were involved, and whether the country is on the high-cost list
--   (calling_codes.high_cost). Toll fraud sends traffic to countries where termination pays; a country your
--   users do not live in, with a high DENY share, is where to look first and what to block in Okta.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until
),
-- Sends grouped by (event type, user, client IP, phone number) in the order of the index on those columns,
-- so SQLite aggregates as it reads instead of sorting every send.
-- Columns that are the same for a whole group (a number's country, an address's location) are taken as they
-- are, without an aggregate (SQLite reads such a bare column once per group).
triples AS (
  SELECT e.event_type, e.user_id, e.phone_number, e.phone_country AS phone_country,
         e.country_calling_code AS country_calling_code, count(*) AS sends,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
  UNION ALL
  SELECT e.event_type, e.user_id, e.phone_number, e.phone_country, e.country_calling_code, count(*),
         sum(e.outcome_result = 'DENY'), sum(e.outcome_result = 'FAILURE')
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number
),
per_country AS (
  SELECT
    phone_country,
    max(country_calling_code) AS country_calling_code,
    sum(sends) AS sends,
    sum(CASE WHEN event_type >= 'system.voice.' THEN sends ELSE 0 END) AS voice,
    sum(denied) AS denied,
    sum(failed) AS failed,
    count(DISTINCT user_id) AS users,
    count(DISTINCT phone_number) AS numbers
  FROM triples
  GROUP BY phone_country
)
SELECT
  c.phone_country,
  coalesce((SELECT country FROM calling_codes WHERE iso2 = c.phone_country ORDER BY length(code), code LIMIT 1),
           (SELECT country FROM calling_codes WHERE code = c.country_calling_code)) AS country,
  c.country_calling_code,
  coalesce((SELECT max(high_cost) FROM calling_codes WHERE iso2 = c.phone_country),
           (SELECT high_cost FROM calling_codes WHERE code = c.country_calling_code AND iso2 IS NULL), 0) AS high_cost,
  c.sends,
  c.voice,
  c.sends - c.voice AS sms,
  c.denied,
  round(100.0 * c.denied / c.sends, 2) AS deny_pct,
  c.failed,
  c.users,
  c.numbers
FROM per_country c
ORDER BY c.sends DESC, c.phone_country
