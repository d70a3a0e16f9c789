-- title: Delivery outcomes by provider and country
-- description: For each telephony provider, destination country and channel: the sends Okta logged
--   (system.sms.send_* / system.voice.send_*), how many it blocked (DENY) or failed, and what the provider later
--   reported in system.sms.receive_status / system.voice.receive_status (debugData.status): delivered or
--   completed, still pending (sent, queued, ringing...), or failed (failed, undelivered, busy, no-answer...).
--   delivered_pct is confirmed deliveries per accepted send. A country whose sends are accepted but rarely
--   confirmed is typical of pumped numbers and of provider trouble; a provider much worse than the other on the
--   same country is a routing problem to raise with it.
-- param since: Start of the window, UTC, ISO 8601 (2026-03-01 or 2026-03-01T12:00). Default: 30 days before the newest event.
-- param until: End of the window (exclusive), same format. Default: no end.
WITH params AS (
  SELECT
    coalesce(nullif(replace(:since, ' ', 'T'), ''),
             strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT max(published) FROM events), '-30 days'), '') AS since,
    coalesce(nullif(replace(:until, ' ', 'T'), ''), '9999') AS until
),
-- Events grouped in the order of the index on (event type, user, IP, number, provider, status), so SQLite
-- aggregates as it reads; the small groups are then added up per provider, country and channel.
-- Columns that are the same for a whole group (a number's country, an address's location) are taken as they
-- are, without an aggregate (SQLite reads such a bare column once per group).
groups AS (
  SELECT 'sms' AS channel, 0 AS is_report, e.provider, e.phone_country AS phone_country,
         lower(e.delivery_status) AS status, count(*) AS events,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed
  FROM events e, params p
  WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.sms.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number, e.provider, e.delivery_status
  UNION ALL
  SELECT 'sms' AS channel, 1 AS is_report, e.provider, e.phone_country AS phone_country,
         lower(e.delivery_status) AS status, count(*) AS events,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed
  FROM events e, params p
  WHERE e.event_type = 'system.sms.receive_status'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number, e.provider, e.delivery_status
  UNION ALL
  SELECT 'voice' AS channel, 0 AS is_report, e.provider, e.phone_country AS phone_country,
         lower(e.delivery_status) AS status, count(*) AS events,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed
  FROM events e, params p
  WHERE e.event_type >= 'system.voice.send_' AND e.event_type < 'system.voice.send_~'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number, e.provider, e.delivery_status
  UNION ALL
  SELECT 'voice' AS channel, 1 AS is_report, e.provider, e.phone_country AS phone_country,
         lower(e.delivery_status) AS status, count(*) AS events,
         sum(e.outcome_result = 'DENY') AS denied, sum(e.outcome_result = 'FAILURE') AS failed
  FROM events e, params p
  WHERE e.event_type = 'system.voice.receive_status'
    AND +e.published >= p.since AND +e.published < p.until
  GROUP BY e.event_type, e.user_id, e.client_ip, e.phone_number, e.provider, e.delivery_status
),
totals AS (
  SELECT
    coalesce(provider, '(none)') AS provider,
    phone_country,
    channel,
    sum(CASE WHEN NOT is_report THEN events ELSE 0 END) AS sends,
    sum(CASE WHEN NOT is_report THEN denied ELSE 0 END) AS denied,
    sum(CASE WHEN NOT is_report THEN failed ELSE 0 END) AS failed,
    sum(CASE WHEN is_report THEN events ELSE 0 END) AS reports,
    sum(CASE WHEN is_report AND status IN ('delivered', 'completed') THEN events ELSE 0 END) AS delivered,
    sum(CASE WHEN is_report AND status IN ('sent', 'queued', 'accepted', 'sending', 'ringing', 'in-progress', 'initiated')
             THEN events ELSE 0 END) AS pending,
    sum(CASE WHEN is_report AND (status IS NULL OR status NOT IN ('delivered', 'completed', 'sent', 'queued', 'accepted',
             'sending', 'ringing', 'in-progress', 'initiated')) THEN events ELSE 0 END) AS report_failed
  FROM groups
  GROUP BY coalesce(provider, '(none)'), phone_country, channel
)
SELECT
  t.provider,
  t.phone_country,
  t.channel,
  t.sends,
  t.denied,
  t.failed,
  t.reports,
  t.delivered,
  t.pending,
  t.report_failed,
  round(100.0 * t.delivered / nullif(t.sends - t.denied - t.failed, 0), 1) AS delivered_pct
FROM totals t
ORDER BY t.sends DESC, t.provider, t.phone_country, t.channel
