DROP TABLE admission_targets;
DROP TABLE insignia_awards;
DROP TABLE disciplinary_actions;
DROP TABLE organization_ratings;
DROP TABLE member_ratings;
