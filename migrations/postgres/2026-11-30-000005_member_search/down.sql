DROP INDEX members_organization_idx;
CREATE INDEX members_organization_idx ON members (organization_id);
