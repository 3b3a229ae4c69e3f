DROP TABLE member_events;
DROP TABLE positions;
DROP TABLE party_age_gaps;
DROP TABLE member_exemptions;
DROP TABLE memberships;
DROP TABLE members;
