-- Telephony sends (voice calls and SMS), one row each, with the person called, the destination
-- and the client location (latitude/longitude: the one location pair, for the map). The sends are
-- system.voice.send_* and system.sms.send_*; the ranges below let SQLite use its index on event_type.
SELECT
  e.uuid,
  e.published,
  e.event_type,
  CASE WHEN e.event_type >= 'system.voice.' THEN 'voice' ELSE 'sms' END AS channel,
  e.outcome_result,
  e.outcome_reason,
  e.user_id,
  u.alternate_id AS user_alternate_id,
  u.display_name AS user_display_name,
  e.phone_number,
  e.phone_id,
  e.country_calling_code,
  e.phone_country,
  dest.country AS destination_country,
  coalesce(dest.high_cost, 0) AS high_cost_destination,
  e.provider,
  e.client_ip,
  e.client_city,
  e.client_country,
  e.latitude,
  e.longitude,
  e.as_number,
  e.as_org,
  e.is_proxy,
  e.user_agent,
  e.actor_id,
  e.actor_type
FROM events e
LEFT JOIN users u ON u.id = e.user_id
LEFT JOIN (
  SELECT iso2, country, max(high_cost) AS high_cost FROM calling_codes WHERE iso2 IS NOT NULL GROUP BY iso2
) dest ON dest.iso2 = e.phone_country
WHERE e.event_type >= 'system.sms.send_' AND e.event_type < 'system.voice.send_~'
  AND (e.event_type < 'system.sms.send_~' OR e.event_type >= 'system.voice.send_')
