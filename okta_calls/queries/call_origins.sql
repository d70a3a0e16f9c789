-- title: Where calls were requested from
-- description: Voice calls and SMS per client location (client.geographicalContext: city, country and
--   geolocation of the IP address that asked Okta to send), with how many Okta blocked (DENY) and how many
--   users and addresses were involved. Shown on a map (one marker per location): a cluster where none of your
--   users work, or a datacenter location with many users, is worth a look. Okta geolocates IP addresses, so a
--   VPN or proxy shows its exit, not the person.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
-- param limit: How many locations to list. Default: 1000.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until,
    CAST(coalesce(nullif(:limit, ''), 1000) AS INTEGER) AS max_rows
),
-- Sends grouped by (event type, user, client IP) in the order of the index on those columns: no sort.
-- Columns that are the same for a whole group (a number's country, an address's location) are taken as they
-- are, without an aggregate (SQLite reads such a bare column once per group).
groups AS (
  SELECT e.user_id, e.client_ip, e.latitude AS latitude, e.longitude AS longitude,
         count(*) AS sends, sum(e.outcome_result = 'DENY') AS denied
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip
  UNION ALL
  SELECT e.user_id, e.client_ip, e.latitude, e.longitude, count(*), sum(e.outcome_result = 'DENY')
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip
),
places AS (
  SELECT latitude, longitude, sum(sends) AS sends, sum(denied) AS denied,
         count(DISTINCT user_id) AS users, count(DISTINCT client_ip) AS ips, max(client_ip) AS some_ip
  FROM groups
  WHERE latitude IS NOT NULL AND longitude IS NOT NULL
  GROUP BY latitude, longitude
)
SELECT
  (SELECT client_city FROM events WHERE client_ip = pl.some_ip AND latitude = pl.latitude LIMIT 1) AS city,
  (SELECT client_country FROM events WHERE client_ip = pl.some_ip AND latitude = pl.latitude LIMIT 1) AS country,
  pl.latitude,
  pl.longitude,
  pl.sends,
  pl.denied,
  round(100.0 * pl.denied / pl.sends, 2) AS deny_pct,
  pl.users,
  pl.ips
FROM places pl
ORDER BY pl.sends DESC
LIMIT (SELECT max_rows FROM params)
