-- Telephony sends (voice calls and SMS), one row each, with the person called and the phone joined.
SELECT
  e.uuid,
  e.published,
  e.event_type,
  CASE WHEN e.event_type LIKE 'system.voice.%' THEN 'voice' ELSE 'sms' END AS channel,
  e.outcome_result,
  e.outcome_reason,
  e.user_id,
  u.alternate_id AS user_alternate_id,
  u.display_name AS user_display_name,
  e.phone_number,
  e.phone_id,
  e.country_calling_code,
  e.phone_country,
  cc.country AS destination_country,
  cc.high_cost AS high_cost_destination,
  e.provider,
  e.client_ip,
  e.client_city,
  e.client_country,
  e.as_number,
  e.as_org,
  e.is_proxy,
  e.user_agent,
  e.actor_id,
  e.actor_type
FROM events e
LEFT JOIN users u ON u.id = e.user_id
LEFT JOIN calling_codes cc ON cc.code = e.country_calling_code
WHERE (e.event_type LIKE 'system.voice.send%' OR e.event_type LIKE 'system.sms.send%')
