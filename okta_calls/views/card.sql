-- One row per event with every output of the Okta Workflows card "Phone Verification Call Sent",
-- named as the card names them. Actor/User/Phone fields are the event's own (from its raw JSON).
SELECT
  e.published AS "Date and Time",
  e.display_message AS "Message",
  d.delivery_id AS "Event ID",
  e.event_type AS "Event Type",
  d.event_time AS "Event Time",
  e.version AS "Version",
  e.actor_id AS "Actor ID",
  json_extract(r.payload, '$.actor.alternateId') AS "Actor Alternate ID",
  json_extract(r.payload, '$.actor.displayName') AS "Actor Display Name",
  e.actor_type AS "Actor Type",
  e.user_id AS "Okta User ID",
  u.alternate_id AS "Okta User Alternate ID",
  u.display_name AS "Okta User Display Name",
  u.type AS "Okta User Type",
  e.phone_id AS "Phone ID",
  e.phone_number AS "Phone Alternate ID",
  p.display_name AS "Phone Display Name",
  p.type AS "Phone Type",
  e.uuid AS "UUID",
  r.payload AS "Event Details",
  d.headers AS "Headers",
  d.source AS "Source",
  json_extract(r.payload, '$.debugContext.debugData') AS "Debug Data"
FROM events e
JOIN raw_events r ON r.id = e.id
LEFT JOIN users u ON u.id = e.user_id
LEFT JOIN phones p ON p.phone_number = e.phone_number
LEFT JOIN delivery_events de ON de.uuid = e.uuid
  AND de.rowid = (SELECT min(rowid) FROM delivery_events WHERE uuid = e.uuid)
LEFT JOIN deliveries d ON d.delivery_id = de.delivery_id
