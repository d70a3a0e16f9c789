-- One row per event with every output of the Okta Workflows card "Phone Verification Call Sent", named as the
-- card names them. Actor, Okta User and Phone are the event's own: the actor from its raw JSON, the user from its
-- User target (or the actor when it is a User and there is no User target), the phone from its MobilePhone
-- target (Classic Engine) or from debugContext.debugData (Identity Engine: no id or display name). Event ID,
-- Event Time, Headers and Source come from the first Event Hook delivery that carried the event.
SELECT
  e.published AS "Date and Time",
  e.display_message AS "Message",
  (SELECT d.delivery_id FROM delivery_events de JOIN deliveries d ON d.delivery_id = de.delivery_id
   WHERE de.uuid = e.uuid ORDER BY de.rowid LIMIT 1) AS "Event ID",
  e.event_type AS "Event Type",
  (SELECT d.event_time FROM delivery_events de JOIN deliveries d ON d.delivery_id = de.delivery_id
   WHERE de.uuid = e.uuid ORDER BY de.rowid LIMIT 1) AS "Event Time",
  e.version AS "Version",
  e.actor_id AS "Actor ID",
  json_extract(r.payload, '$.actor.alternateId') AS "Actor Alternate ID",
  json_extract(r.payload, '$.actor.displayName') AS "Actor Display Name",
  e.actor_type AS "Actor Type",
  e.user_id AS "Okta User ID",
  coalesce(
    (SELECT t.alternate_id FROM targets t WHERE t.event_id = e.id AND +t.type = 'User' ORDER BY t.position LIMIT 1),
    CASE WHEN e.actor_type = 'User' AND e.actor_id = e.user_id THEN json_extract(r.payload, '$.actor.alternateId') END
  ) AS "Okta User Alternate ID",
  coalesce(
    (SELECT t.display_name FROM targets t WHERE t.event_id = e.id AND +t.type = 'User' ORDER BY t.position LIMIT 1),
    CASE WHEN e.actor_type = 'User' AND e.actor_id = e.user_id THEN json_extract(r.payload, '$.actor.displayName') END
  ) AS "Okta User Display Name",
  CASE WHEN e.user_id IS NOT NULL THEN
    coalesce((SELECT t.type FROM targets t WHERE t.event_id = e.id AND +t.type = 'User' ORDER BY t.position LIMIT 1),
             e.actor_type)
  END AS "Okta User Type",
  e.phone_id AS "Phone ID",
  coalesce(
    (SELECT t.alternate_id FROM targets t WHERE t.event_id = e.id AND +t.type = 'MobilePhone' ORDER BY t.position LIMIT 1),
    json_extract(r.payload, '$.debugContext.debugData.phoneNumber')
  ) AS "Phone Alternate ID",
  (SELECT t.display_name FROM targets t WHERE t.event_id = e.id AND +t.type = 'MobilePhone' ORDER BY t.position LIMIT 1)
    AS "Phone Display Name",
  CASE WHEN e.phone_number IS NOT NULL THEN
    coalesce((SELECT t.type FROM targets t WHERE t.event_id = e.id AND +t.type = 'MobilePhone' ORDER BY t.position LIMIT 1),
             'MobilePhone')
  END AS "Phone Type",
  e.uuid AS "UUID",
  r.payload AS "Event Details",
  (SELECT d.headers FROM delivery_events de JOIN deliveries d ON d.delivery_id = de.delivery_id
   WHERE de.uuid = e.uuid ORDER BY de.rowid LIMIT 1) AS "Headers",
  (SELECT d.source FROM delivery_events de JOIN deliveries d ON d.delivery_id = de.delivery_id
   WHERE de.uuid = e.uuid ORDER BY de.rowid LIMIT 1) AS "Source",
  json_extract(r.payload, '$.debugContext.debugData') AS "Debug Data"
FROM events e
LEFT JOIN raw_events r ON r.uuid = e.uuid
