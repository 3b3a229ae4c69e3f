//! The access matrix: every route × every caller (no credentials, and each role with its scope
//! at organisation A) × where the target sits relative to that scope, Hitobito-style:
//! the scope organisation itself, a descendant, an ancestor, a sibling subtree, another province.
//!
//! The matrix is data (the table below). A route the table does not list, or a route listed
//! with no way to call it, fails the test: a route added without its guard fails the build.
//!
//! ```text
//! P1 (province) ─┬─ A (scope of every non-admin user) ── A1 ── A1a
//!                └─ B (sibling)
//! P2 (another province) ── C
//! ```

use std::collections::BTreeSet;

use party_records::api::ROUTES;
use party_records::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, PASSWORD};

/// Columns: method, path, caller, then either one status (routes about no organisation) or
/// five: target = own, descendant, ancestor, sibling, other province.
const MATRIX: &str = r#"
GET    /health                               anonymous 200
GET    /health                               admin     200
GET    /health                               clerk     200
GET    /health                               inspector 200
GET    /health                               auditor   200
GET    /ready                                anonymous 200
GET    /ready                                admin     200
GET    /ready                                clerk     200
GET    /ready                                inspector 200
GET    /ready                                auditor   200
GET    /openapi.yaml                         anonymous 200
GET    /openapi.yaml                         admin     200
GET    /openapi.yaml                         clerk     200
GET    /openapi.yaml                         inspector 200
GET    /openapi.yaml                         auditor   200
GET    /docs                                 anonymous 200
GET    /docs                                 admin     200
GET    /docs                                 clerk     200
GET    /docs                                 inspector 200
GET    /docs                                 auditor   200
GET    /docs/{asset}                         anonymous 200
GET    /docs/{asset}                         admin     200
GET    /docs/{asset}                         clerk     200
GET    /docs/{asset}                         inspector 200
GET    /docs/{asset}                         auditor   200

POST   /api/v1/auth/login                    anonymous 401
POST   /api/v1/auth/login                    admin     200
POST   /api/v1/auth/login                    clerk     200
POST   /api/v1/auth/login                    inspector 200
POST   /api/v1/auth/login                    auditor   200
POST   /api/v1/auth/refresh                  anonymous 401
POST   /api/v1/auth/refresh                  admin     200
POST   /api/v1/auth/refresh                  clerk     200
POST   /api/v1/auth/refresh                  inspector 200
POST   /api/v1/auth/refresh                  auditor   200
POST   /api/v1/auth/logout                   anonymous 204
POST   /api/v1/auth/logout                   admin     204
POST   /api/v1/auth/logout                   clerk     204
POST   /api/v1/auth/logout                   inspector 204
POST   /api/v1/auth/logout                   auditor   204
GET    /api/v1/me                            anonymous 401
GET    /api/v1/me                            admin     200
GET    /api/v1/me                            clerk     200
GET    /api/v1/me                            inspector 200
GET    /api/v1/me                            auditor   200
PUT    /api/v1/me/password                   anonymous 401
PUT    /api/v1/me/password                   admin     422
PUT    /api/v1/me/password                   clerk     422
PUT    /api/v1/me/password                   inspector 422
PUT    /api/v1/me/password                   auditor   422

GET    /api/v1/users                         anonymous 401
GET    /api/v1/users                         admin     200
GET    /api/v1/users                         clerk     403
GET    /api/v1/users                         inspector 403
GET    /api/v1/users                         auditor   403
POST   /api/v1/users                         anonymous 401
POST   /api/v1/users                         admin     201
POST   /api/v1/users                         clerk     403
POST   /api/v1/users                         inspector 403
POST   /api/v1/users                         auditor   403
GET    /api/v1/users/{username}              anonymous 401
GET    /api/v1/users/{username}              admin     200
GET    /api/v1/users/{username}              clerk     403
GET    /api/v1/users/{username}              inspector 403
GET    /api/v1/users/{username}              auditor   403
PATCH  /api/v1/users/{username}              anonymous 401
PATCH  /api/v1/users/{username}              admin     200
PATCH  /api/v1/users/{username}              clerk     403
PATCH  /api/v1/users/{username}              inspector 403
PATCH  /api/v1/users/{username}              auditor   403
POST   /api/v1/users/{username}/password     anonymous 401
POST   /api/v1/users/{username}/password     admin     204
POST   /api/v1/users/{username}/password     clerk     403
POST   /api/v1/users/{username}/password     inspector 403
POST   /api/v1/users/{username}/password     auditor   403

GET    /api/v1/api-keys                      anonymous 401
GET    /api/v1/api-keys                      admin     200
GET    /api/v1/api-keys                      clerk     200
GET    /api/v1/api-keys                      inspector 200
GET    /api/v1/api-keys                      auditor   200
POST   /api/v1/api-keys                      anonymous 401
POST   /api/v1/api-keys                      admin     201
POST   /api/v1/api-keys                      clerk     201
POST   /api/v1/api-keys                      inspector 201
POST   /api/v1/api-keys                      auditor   201
DELETE /api/v1/api-keys/{id}                 anonymous 401
DELETE /api/v1/api-keys/{id}                 admin     204
DELETE /api/v1/api-keys/{id}                 clerk     204
DELETE /api/v1/api-keys/{id}                 inspector 204
DELETE /api/v1/api-keys/{id}                 auditor   204

GET    /api/v1/audit/events                  anonymous 401
GET    /api/v1/audit/events                  admin     200
GET    /api/v1/audit/events                  clerk     403
GET    /api/v1/audit/events                  inspector 403
GET    /api/v1/audit/events                  auditor   200
GET    /api/v1/audit/verify                  anonymous 401
GET    /api/v1/audit/verify                  admin     200
GET    /api/v1/audit/verify                  clerk     403
GET    /api/v1/audit/verify                  inspector 403
GET    /api/v1/audit/verify                  auditor   200

#                                                      own desc anc sib other
GET    /api/v1/organizations                 anonymous 401 401 401 401 401
GET    /api/v1/organizations                 admin     200 200 200 200 200
GET    /api/v1/organizations                 clerk     200 200 404 404 404
GET    /api/v1/organizations                 inspector 200 200 404 404 404
GET    /api/v1/organizations                 auditor   200 200 404 404 404
POST   /api/v1/organizations                 anonymous 401 401 401 401 401
POST   /api/v1/organizations                 admin     201 201 201 201 201
POST   /api/v1/organizations                 clerk     201 201 422 422 422
POST   /api/v1/organizations                 inspector 403 403 403 403 403
POST   /api/v1/organizations                 auditor   403 403 403 403 403
GET    /api/v1/organizations/{code}          anonymous 401 401 401 401 401
GET    /api/v1/organizations/{code}          admin     200 200 200 200 200
GET    /api/v1/organizations/{code}          clerk     200 200 404 404 404
GET    /api/v1/organizations/{code}          inspector 200 200 404 404 404
GET    /api/v1/organizations/{code}          auditor   200 200 404 404 404
PATCH  /api/v1/organizations/{code}          anonymous 401 401 401 401 401
PATCH  /api/v1/organizations/{code}          admin     200 200 200 200 200
PATCH  /api/v1/organizations/{code}          clerk     200 200 404 404 404
PATCH  /api/v1/organizations/{code}          inspector 403 403 403 403 403
PATCH  /api/v1/organizations/{code}          auditor   403 403 403 403 403
POST   /api/v1/organizations/{code}/dissolve anonymous 401 401 401 401 401
POST   /api/v1/organizations/{code}/dissolve admin     422 422 422 422 422
POST   /api/v1/organizations/{code}/dissolve clerk     422 422 404 404 404
POST   /api/v1/organizations/{code}/dissolve inspector 403 403 403 403 403
POST   /api/v1/organizations/{code}/dissolve auditor   403 403 403 403 403
POST   /api/v1/organizations/{code}/move     anonymous 401 401 401 401 401
POST   /api/v1/organizations/{code}/move     admin     422 422 422 422 422
POST   /api/v1/organizations/{code}/move     clerk     422 422 404 404 404
POST   /api/v1/organizations/{code}/move     inspector 403 403 403 403 403
POST   /api/v1/organizations/{code}/move     auditor   403 403 403 403 403
GET    /api/v1/organizations/{code}/tree     anonymous 401 401 401 401 401
GET    /api/v1/organizations/{code}/tree     admin     200 200 200 200 200
GET    /api/v1/organizations/{code}/tree     clerk     200 200 404 404 404
GET    /api/v1/organizations/{code}/tree     inspector 200 200 404 404 404
GET    /api/v1/organizations/{code}/tree     auditor   200 200 404 404 404

#      members: own and ancestor are committees, where no member is active (-: not applicable)
GET    /api/v1/members                                          anonymous 401 401 401 401 401
GET    /api/v1/members                                          admin     200 200 200 200 200
GET    /api/v1/members                                          clerk     200 200 404 404 404
GET    /api/v1/members                                          inspector 200 200 404 404 404
GET    /api/v1/members                                          auditor   200 200 404 404 404
POST   /api/v1/members                                          anonymous -   401 -   401 401
POST   /api/v1/members                                          admin     -   201 -   201 201
POST   /api/v1/members                                          clerk     -   201 -   422 422
POST   /api/v1/members                                          inspector -   403 -   403 403
POST   /api/v1/members                                          auditor   -   403 -   403 403
GET    /api/v1/members/{profile_number}                         anonymous -   401 -   401 401
GET    /api/v1/members/{profile_number}                         admin     -   200 -   200 200
GET    /api/v1/members/{profile_number}                         clerk     -   200 -   404 404
GET    /api/v1/members/{profile_number}                         inspector -   200 -   404 404
GET    /api/v1/members/{profile_number}                         auditor   -   200 -   404 404
GET    /api/v1/members/{profile_number}/history                 anonymous -   401 -   401 401
GET    /api/v1/members/{profile_number}/history                 admin     -   200 -   200 200
GET    /api/v1/members/{profile_number}/history                 clerk     -   200 -   404 404
GET    /api/v1/members/{profile_number}/history                 inspector -   200 -   404 404
GET    /api/v1/members/{profile_number}/history                 auditor   -   200 -   404 404
GET    /api/v1/members/{profile_number}/party-age               anonymous -   401 -   401 401
GET    /api/v1/members/{profile_number}/party-age               admin     -   200 -   200 200
GET    /api/v1/members/{profile_number}/party-age               clerk     -   200 -   404 404
GET    /api/v1/members/{profile_number}/party-age               inspector -   200 -   404 404
GET    /api/v1/members/{profile_number}/party-age               auditor   -   200 -   404 404
PATCH  /api/v1/members/{profile_number}                         anonymous -   401 -   401 401
PATCH  /api/v1/members/{profile_number}                         admin     -   200 -   200 200
PATCH  /api/v1/members/{profile_number}                         clerk     -   200 -   404 404
PATCH  /api/v1/members/{profile_number}                         inspector -   403 -   403 403
PATCH  /api/v1/members/{profile_number}                         auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/recognition             anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/recognition             admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/recognition             clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/recognition             inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/recognition             auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/transfers               anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/transfers               admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/transfers               clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/transfers               inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/transfers               auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/exemptions              anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/exemptions              admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/exemptions              clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/exemptions              inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/exemptions              auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/exemptions/end          anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/exemptions/end          admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/exemptions/end          clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/exemptions/end          inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/exemptions/end          auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/leave                   anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/leave                   admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/leave                   clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/leave                   inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/leave                   auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/party-age-gaps          anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/party-age-gaps          admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/party-age-gaps          clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/party-age-gaps          inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/party-age-gaps          auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/positions               anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/positions               admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/positions               clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/positions               inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/positions               auditor   -   403 -   403 403
POST   /api/v1/members/{profile_number}/positions/end           anonymous -   401 -   401 401
POST   /api/v1/members/{profile_number}/positions/end           admin     -   422 -   422 422
POST   /api/v1/members/{profile_number}/positions/end           clerk     -   422 -   404 404
POST   /api/v1/members/{profile_number}/positions/end           inspector -   403 -   403 403
POST   /api/v1/members/{profile_number}/positions/end           auditor   -   403 -   403 403

#      annual records: member-bound routes use the member columns; disciplinary writes belong to inspectors
GET    /api/v1/ratings/members                                  anonymous 401 401 401 401 401
GET    /api/v1/ratings/members                                  admin     200 200 200 200 200
GET    /api/v1/ratings/members                                  clerk     200 200 404 404 404
GET    /api/v1/ratings/members                                  inspector 200 200 404 404 404
GET    /api/v1/ratings/members                                  auditor   200 200 404 404 404
POST   /api/v1/ratings/members                                  anonymous -   401 -   401 401
POST   /api/v1/ratings/members                                  admin     -   201 -   201 201
POST   /api/v1/ratings/members                                  clerk     -   201 -   422 422
POST   /api/v1/ratings/members                                  inspector -   403 -   403 403
POST   /api/v1/ratings/members                                  auditor   -   403 -   403 403
POST   /api/v1/ratings/members/batch                            anonymous -   401 -   401 401
POST   /api/v1/ratings/members/batch                            admin     -   200 -   200 200
POST   /api/v1/ratings/members/batch                            clerk     -   200 -   422 422
POST   /api/v1/ratings/members/batch                            inspector -   403 -   403 403
POST   /api/v1/ratings/members/batch                            auditor   -   403 -   403 403
GET    /api/v1/ratings/members/{profile_number}/{year}          anonymous -   401 -   401 401
GET    /api/v1/ratings/members/{profile_number}/{year}          admin     -   200 -   200 200
GET    /api/v1/ratings/members/{profile_number}/{year}          clerk     -   200 -   404 404
GET    /api/v1/ratings/members/{profile_number}/{year}          inspector -   200 -   404 404
GET    /api/v1/ratings/members/{profile_number}/{year}          auditor   -   200 -   404 404
PATCH  /api/v1/ratings/members/{profile_number}/{year}          anonymous -   401 -   401 401
PATCH  /api/v1/ratings/members/{profile_number}/{year}          admin     -   200 -   200 200
PATCH  /api/v1/ratings/members/{profile_number}/{year}          clerk     -   200 -   404 404
PATCH  /api/v1/ratings/members/{profile_number}/{year}          inspector -   403 -   403 403
PATCH  /api/v1/ratings/members/{profile_number}/{year}          auditor   -   403 -   403 403
GET    /api/v1/ratings/organizations                            anonymous 401 401 401 401 401
GET    /api/v1/ratings/organizations                            admin     200 200 200 200 200
GET    /api/v1/ratings/organizations                            clerk     200 200 404 404 404
GET    /api/v1/ratings/organizations                            inspector 200 200 404 404 404
GET    /api/v1/ratings/organizations                            auditor   200 200 404 404 404
POST   /api/v1/ratings/organizations                            anonymous 401 401 401 401 401
POST   /api/v1/ratings/organizations                            admin     201 201 201 201 201
POST   /api/v1/ratings/organizations                            clerk     201 201 422 422 422
POST   /api/v1/ratings/organizations                            inspector 403 403 403 403 403
POST   /api/v1/ratings/organizations                            auditor   403 403 403 403 403
POST   /api/v1/ratings/organizations/batch                      anonymous 401 401 401 401 401
POST   /api/v1/ratings/organizations/batch                      admin     200 200 200 200 200
POST   /api/v1/ratings/organizations/batch                      clerk     200 200 422 422 422
POST   /api/v1/ratings/organizations/batch                      inspector 403 403 403 403 403
POST   /api/v1/ratings/organizations/batch                      auditor   403 403 403 403 403
GET    /api/v1/ratings/organizations/{code}/{year}              anonymous 401 401 401 401 401
GET    /api/v1/ratings/organizations/{code}/{year}              admin     200 200 200 200 200
GET    /api/v1/ratings/organizations/{code}/{year}              clerk     200 200 404 404 404
GET    /api/v1/ratings/organizations/{code}/{year}              inspector 200 200 404 404 404
GET    /api/v1/ratings/organizations/{code}/{year}              auditor   200 200 404 404 404
PATCH  /api/v1/ratings/organizations/{code}/{year}              anonymous 401 401 401 401 401
PATCH  /api/v1/ratings/organizations/{code}/{year}              admin     200 200 200 200 200
PATCH  /api/v1/ratings/organizations/{code}/{year}              clerk     200 200 404 404 404
PATCH  /api/v1/ratings/organizations/{code}/{year}              inspector 403 403 403 403 403
PATCH  /api/v1/ratings/organizations/{code}/{year}              auditor   403 403 403 403 403
GET    /api/v1/disciplinary-actions                             anonymous 401 401 401 401 401
GET    /api/v1/disciplinary-actions                             admin     200 200 200 200 200
GET    /api/v1/disciplinary-actions                             clerk     200 200 404 404 404
GET    /api/v1/disciplinary-actions                             inspector 200 200 404 404 404
GET    /api/v1/disciplinary-actions                             auditor   200 200 404 404 404
POST   /api/v1/disciplinary-actions                             anonymous -   401 -   401 401
POST   /api/v1/disciplinary-actions                             admin     -   201 -   201 201
POST   /api/v1/disciplinary-actions                             clerk     -   403 -   403 403
POST   /api/v1/disciplinary-actions                             inspector -   201 -   422 422
POST   /api/v1/disciplinary-actions                             auditor   -   403 -   403 403
GET    /api/v1/disciplinary-actions/{id}                        anonymous -   401 -   401 401
GET    /api/v1/disciplinary-actions/{id}                        admin     -   200 -   200 200
GET    /api/v1/disciplinary-actions/{id}                        clerk     -   200 -   404 404
GET    /api/v1/disciplinary-actions/{id}                        inspector -   200 -   404 404
GET    /api/v1/disciplinary-actions/{id}                        auditor   -   200 -   404 404
POST   /api/v1/disciplinary-actions/{id}/appeal                 anonymous -   401 -   401 401
POST   /api/v1/disciplinary-actions/{id}/appeal                 admin     -   422 -   422 422
POST   /api/v1/disciplinary-actions/{id}/appeal                 clerk     -   403 -   403 403
POST   /api/v1/disciplinary-actions/{id}/appeal                 inspector -   422 -   404 404
POST   /api/v1/disciplinary-actions/{id}/appeal                 auditor   -   403 -   403 403
GET    /api/v1/insignia-awards                                  anonymous 401 401 401 401 401
GET    /api/v1/insignia-awards                                  admin     200 200 200 200 200
GET    /api/v1/insignia-awards                                  clerk     200 200 404 404 404
GET    /api/v1/insignia-awards                                  inspector 200 200 404 404 404
GET    /api/v1/insignia-awards                                  auditor   200 200 404 404 404
POST   /api/v1/insignia-awards                                  anonymous -   401 -   401 401
POST   /api/v1/insignia-awards                                  admin     -   422 -   422 422
POST   /api/v1/insignia-awards                                  clerk     -   422 -   422 422
POST   /api/v1/insignia-awards                                  inspector -   403 -   403 403
POST   /api/v1/insignia-awards                                  auditor   -   403 -   403 403
GET    /api/v1/insignia-awards/eligible                         anonymous 401 401 401 401 401
GET    /api/v1/insignia-awards/eligible                         admin     200 200 200 200 200
GET    /api/v1/insignia-awards/eligible                         clerk     200 200 404 404 404
GET    /api/v1/insignia-awards/eligible                         inspector 200 200 404 404 404
GET    /api/v1/insignia-awards/eligible                         auditor   200 200 404 404 404
GET    /api/v1/insignia-awards/{id}                             anonymous -   401 -   401 401
GET    /api/v1/insignia-awards/{id}                             admin     -   200 -   200 200
GET    /api/v1/insignia-awards/{id}                             clerk     -   200 -   404 404
GET    /api/v1/insignia-awards/{id}                             inspector -   200 -   404 404
GET    /api/v1/insignia-awards/{id}                             auditor   -   200 -   404 404
GET    /api/v1/admission-targets                                anonymous 401 401 401 401 401
GET    /api/v1/admission-targets                                admin     200 200 200 200 200
GET    /api/v1/admission-targets                                clerk     200 200 404 404 404
GET    /api/v1/admission-targets                                inspector 200 200 404 404 404
GET    /api/v1/admission-targets                                auditor   200 200 404 404 404
POST   /api/v1/admission-targets                                anonymous 401 401 401 401 401
POST   /api/v1/admission-targets                                admin     201 201 201 201 201
POST   /api/v1/admission-targets                                clerk     201 201 422 422 422
POST   /api/v1/admission-targets                                inspector 403 403 403 403 403
POST   /api/v1/admission-targets                                auditor   403 403 403 403 403
GET    /api/v1/admission-targets/{code}/{year}                  anonymous 401 401 401 401 401
GET    /api/v1/admission-targets/{code}/{year}                  admin     200 200 200 200 200
GET    /api/v1/admission-targets/{code}/{year}                  clerk     200 200 404 404 404
GET    /api/v1/admission-targets/{code}/{year}                  inspector 200 200 404 404 404
GET    /api/v1/admission-targets/{code}/{year}                  auditor   200 200 404 404 404
PATCH  /api/v1/admission-targets/{code}/{year}                  anonymous 401 401 401 401 401
PATCH  /api/v1/admission-targets/{code}/{year}                  admin     200 200 200 200 200
PATCH  /api/v1/admission-targets/{code}/{year}                  clerk     200 200 404 404 404
PATCH  /api/v1/admission-targets/{code}/{year}                  inspector 403 403 403 403 403
PATCH  /api/v1/admission-targets/{code}/{year}                  auditor   403 403 403 403 403

#      bulk: the import of admission targets (clerks), the export of members (every role)
POST   /api/v1/imports/{kind}                                   anonymous 401 401 401 401 401
POST   /api/v1/imports/{kind}                                   admin     200 200 200 200 200
POST   /api/v1/imports/{kind}                                   clerk     200 200 422 422 422
POST   /api/v1/imports/{kind}                                   inspector 422 422 422 422 422
POST   /api/v1/imports/{kind}                                   auditor   403 403 403 403 403
GET    /api/v1/exports/{kind}                                   anonymous 401 401 401 401 401
GET    /api/v1/exports/{kind}                                   admin     200 200 200 200 200
GET    /api/v1/exports/{kind}                                   clerk     200 200 404 404 404
GET    /api/v1/exports/{kind}                                   inspector 200 200 404 404 404
GET    /api/v1/exports/{kind}                                   auditor   200 200 404 404 404

#      statistics and reports: every role, within its scope
GET    /api/v1/stats/structure                                  anonymous 401 401 401 401 401
GET    /api/v1/stats/structure                                  admin     200 200 200 200 200
GET    /api/v1/stats/structure                                  clerk     200 200 404 404 404
GET    /api/v1/stats/structure                                  inspector 200 200 404 404 404
GET    /api/v1/stats/structure                                  auditor   200 200 404 404 404
GET    /api/v1/stats/ratings                                    anonymous 401 401 401 401 401
GET    /api/v1/stats/ratings                                    admin     200 200 200 200 200
GET    /api/v1/stats/ratings                                    clerk     200 200 404 404 404
GET    /api/v1/stats/ratings                                    inspector 200 200 404 404 404
GET    /api/v1/stats/ratings                                    auditor   200 200 404 404 404
GET    /api/v1/stats/admissions                                 anonymous 401 401 401 401 401
GET    /api/v1/stats/admissions                                 admin     200 200 200 200 200
GET    /api/v1/stats/admissions                                 clerk     200 200 404 404 404
GET    /api/v1/stats/admissions                                 inspector 200 200 404 404 404
GET    /api/v1/stats/admissions                                 auditor   200 200 404 404 404
GET    /api/v1/stats/discipline                                 anonymous 401 401 401 401 401
GET    /api/v1/stats/discipline                                 admin     200 200 200 200 200
GET    /api/v1/stats/discipline                                 clerk     200 200 404 404 404
GET    /api/v1/stats/discipline                                 inspector 200 200 404 404 404
GET    /api/v1/stats/discipline                                 auditor   200 200 404 404 404
GET    /api/v1/stats/insignia                                   anonymous 401 401 401 401 401
GET    /api/v1/stats/insignia                                   admin     200 200 200 200 200
GET    /api/v1/stats/insignia                                   clerk     200 200 404 404 404
GET    /api/v1/stats/insignia                                   inspector 200 200 404 404 404
GET    /api/v1/stats/insignia                                   auditor   200 200 404 404 404
GET    /api/v1/reports/annual                                   anonymous 401 401 401 401 401
GET    /api/v1/reports/annual                                   admin     200 200 200 200 200
GET    /api/v1/reports/annual                                   clerk     200 200 404 404 404
GET    /api/v1/reports/annual                                   inspector 200 200 404 404 404
GET    /api/v1/reports/annual                                   auditor   200 200 404 404 404
GET    /api/v1/stats/checks                                     anonymous 401 401 401 401 401
GET    /api/v1/stats/checks                                     admin     200 200 200 200 200
GET    /api/v1/stats/checks                                     clerk     200 200 404 404 404
GET    /api/v1/stats/checks                                     inspector 200 200 404 404 404
GET    /api/v1/stats/checks                                     auditor   200 200 404 404 404
"#;

const CALLERS: [&str; 5] = ["anonymous", "admin", "clerk", "inspector", "auditor"];
const RELATIONS: [(&str, &str); 5] = [
    ("own", "A"),
    ("descendant", "A1"),
    ("ancestor", "P1"),
    ("sibling", "B"),
    ("other province", "C"),
];

struct Row {
    method: String,
    path: String,
    caller: String,
    /// `None` where the relation does not apply to the route.
    statuses: Vec<Option<u16>>,
}

fn matrix() -> Vec<Row> {
    MATRIX
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            Row {
                method: cols[0].into(),
                path: cols[1].into(),
                caller: cols[2].into(),
                statuses: cols[3..]
                    .iter()
                    .map(|s| (*s != "-").then(|| s.parse().expect("status")))
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn the_matrix_lists_every_route_for_every_caller() {
    let rows = matrix();
    let in_table: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = routes.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes without rows in the access matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "matrix rows for routes that do not exist: {stale:?}"
    );
    for (method, path) in &routes {
        let callers: BTreeSet<&str> = rows
            .iter()
            .filter(|r| &r.method == method && &r.path == path)
            .map(|r| r.caller.as_str())
            .collect();
        assert_eq!(
            callers.len(),
            CALLERS.len(),
            "{method} {path} lacks a caller: {callers:?}"
        );
        for caller in CALLERS {
            assert!(callers.contains(caller), "{method} {path} lacks {caller}");
        }
    }
    for row in &rows {
        assert!(
            row.statuses.len() == 1 || row.statuses.len() == RELATIONS.len(),
            "{} {} {}: one status or five",
            row.method,
            row.path,
            row.caller
        );
    }
}

struct Fixture {
    tokens: Vec<(String, String)>,
}

impl Fixture {
    fn token(&self, caller: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(c, _)| c == caller)
            .map(|(_, t)| t.as_str())
    }
}

async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.admin().await;
    let tree = [
        ("P1", "provincial_committee", None),
        ("A", "subordinate_committee", Some("P1")),
        ("A1", "grassroots_committee", Some("A")),
        ("A1a", "sub_branch", Some("A1")),
        ("B", "subordinate_committee", Some("P1")),
        ("Bb", "grassroots_branch", Some("B")),
        ("P2", "provincial_committee", None),
        ("C", "subordinate_committee", Some("P2")),
        ("Cb", "grassroots_branch", Some("C")),
    ];
    for (code, kind, parent) in tree {
        app.org(&admin, code, kind, parent, "2004-01-01").await;
    }
    for (profile, branch) in [("M-A1a", "A1a"), ("M-Bb", "Bb"), ("M-Cb", "Cb")] {
        app.post("/api/v1/members", &admin, member_body(profile, branch))
            .await
            .expect(201);
        let year_2020 = json!({"profile_number": profile, "year": 2020, "level": "good"});
        app.post("/api/v1/ratings/members", &admin, year_2020)
            .await
            .expect(201);
        let reprimand = json!({"subject_type": "member", "subject": profile, "form": "reprimand",
            "decision_number": format!("F-{profile}"), "authority_code": "P1", "decided_on": "2100-01-02"});
        app.post("/api/v1/disciplinary-actions", &admin, reprimand)
            .await
            .expect(201);
        let award = json!({"profile_number": profile, "tier": 30, "awarded_on": "2024-02-03",
            "override_reason": "fixture"});
        app.post("/api/v1/insignia-awards", &admin, award)
            .await
            .expect(201);
    }
    for (code, _) in RELATIONS.iter().map(|(_, code)| (code, ())) {
        let rating = json!({"organization_code": code, "year": 2020, "level": "good"});
        app.post("/api/v1/ratings/organizations", &admin, rating)
            .await
            .expect(201);
        let target = json!({"organization_code": code, "year": 2020, "target": 5});
        app.post("/api/v1/admission-targets", &admin, target)
            .await
            .expect(201);
    }
    app.insert_user("clerk", Role::Clerk, Some("A"));
    app.insert_user("inspector", Role::Inspector, Some("A"));
    app.insert_user("auditor", Role::Auditor, Some("A"));
    app.insert_user("spare", Role::Clerk, Some("A"));
    let mut tokens = vec![("admin".to_string(), admin)];
    for name in ["clerk", "inspector", "auditor"] {
        tokens.push((name.to_string(), app.token(name).await));
    }
    Fixture { tokens }
}

fn member_body(profile: &str, branch: &str) -> Value {
    json!({"profile_number": profile, "full_name": "Nguyễn Văn Thử", "gender": "male",
           "born_on": "1990-01-01", "organization_code": branch,
           "admitted_on": "2020-01-01", "ceremony_on": "2020-01-01"})
}

/// The member and the branch that stand for a relation on member routes.
fn member_target(relation: usize) -> (&'static str, &'static str) {
    match relation {
        1 => ("M-A1a", "A1a"),
        3 => ("M-Bb", "Bb"),
        4 => ("M-Cb", "Cb"),
        _ => panic!("no member stands for relation {relation}"),
    }
}

struct Request {
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

fn plain(path: &str) -> Request {
    Request {
        path: path.into(),
        body: None,
        headers: Vec::new(),
    }
}

fn with_body(path: &str, body: Value) -> Request {
    Request {
        path: path.into(),
        body: Some(body),
        headers: Vec::new(),
    }
}

/// How to call each route as `caller`, aimed at organisation `target` where it takes one.
/// Requests are built so that an admitted caller gets a definite answer (the target exists,
/// a refused rule shows the request passed the guards) and the fixture is not broken.
async fn request_for(
    app: &TestApp,
    fx: &Fixture,
    method: &str,
    path: &str,
    caller: &str,
    relation: usize,
    n: usize,
) -> Request {
    let target = RELATIONS[relation].1;
    let admin = fx.token("admin").unwrap();
    let kind_under = |parent: &str| match parent {
        "A1" => "sub_branch",
        "P1" | "P2" => "subordinate_committee",
        _ => "grassroots_branch",
    };
    let user = if caller == "anonymous" {
        "nobody"
    } else {
        caller
    };
    match (method, path) {
        (
            "GET",
            "/health"
            | "/ready"
            | "/openapi.yaml"
            | "/docs"
            | "/api/v1/me"
            | "/api/v1/users"
            | "/api/v1/api-keys"
            | "/api/v1/audit/events"
            | "/api/v1/audit/verify",
        ) => plain(path),
        ("GET", "/docs/{asset}") => plain("/docs/swagger-ui.css"),
        ("POST", "/api/v1/auth/login") => {
            with_body(path, json!({"username": user, "password": PASSWORD}))
        }
        ("POST", "/api/v1/auth/refresh") => {
            let token = if caller == "anonymous" {
                "not-a-token".to_string()
            } else {
                let login = app.login(user, PASSWORD).await;
                login.body["refresh_token"].as_str().unwrap().to_string()
            };
            with_body(path, json!({"refresh_token": token}))
        }
        ("POST", "/api/v1/auth/logout") => with_body(path, json!({"refresh_token": "not-a-token"})),
        ("PUT", "/api/v1/me/password") => with_body(
            path,
            json!({"current_password": "not my password", "new_password": "whatever new password"}),
        ),
        ("POST", "/api/v1/users") => with_body(
            path,
            json!({"username": format!("new{n}"), "password": PASSWORD, "role": "clerk", "scope": "A"}),
        ),
        ("GET", "/api/v1/users/{username}") => plain("/api/v1/users/spare"),
        ("PATCH", "/api/v1/users/{username}") => {
            let spare = app.get("/api/v1/users/spare", admin).await;
            let etag = spare.header("etag").unwrap().to_string();
            Request {
                path: "/api/v1/users/spare".into(),
                body: Some(json!({"active": true})),
                headers: vec![("If-Match", etag)],
            }
        }
        ("POST", "/api/v1/users/{username}/password") => with_body(
            "/api/v1/users/spare/password",
            json!({"password": PASSWORD}),
        ),
        ("POST", "/api/v1/api-keys") => with_body(path, json!({"name": format!("key {n}")})),
        ("DELETE", "/api/v1/api-keys/{id}") => {
            let owner = fx.token(caller).unwrap_or(admin);
            let key = app
                .post("/api/v1/api-keys", owner, json!({"name": "to revoke"}))
                .await;
            plain(&format!("/api/v1/api-keys/{}", key.body["id"]))
        }
        ("GET", "/api/v1/organizations") => plain(&format!("/api/v1/organizations?under={target}")),
        ("POST", "/api/v1/organizations") => with_body(
            path,
            json!({"code": format!("N{n}"), "name": "Mới", "kind": kind_under(target),
                   "parent_code": target, "established_on": "2020-01-01"}),
        ),
        ("GET", "/api/v1/organizations/{code}") => {
            plain(&format!("/api/v1/organizations/{target}"))
        }
        ("GET", "/api/v1/organizations/{code}/tree") => {
            plain(&format!("/api/v1/organizations/{target}/tree"))
        }
        ("PATCH", "/api/v1/organizations/{code}") => {
            let org = app
                .get(&format!("/api/v1/organizations/{target}"), admin)
                .await;
            Request {
                path: format!("/api/v1/organizations/{target}"),
                body: Some(json!({"has_branch_committee": false})),
                headers: vec![("If-Match", org.header("etag").unwrap().to_string())],
            }
        }
        // Dated before any establishment: refused by a rule once the guards let it through.
        ("POST", "/api/v1/organizations/{code}/dissolve") => with_body(
            &format!("/api/v1/organizations/{target}/dissolve"),
            json!({"on": "1900-01-01"}),
        ),
        // Under its current parent (or itself, for a root): refused by a rule, changes nothing.
        ("POST", "/api/v1/organizations/{code}/move") => {
            let org = app
                .get(&format!("/api/v1/organizations/{target}"), admin)
                .await;
            let parent = org.body["parent_code"]
                .as_str()
                .unwrap_or(target)
                .to_string();
            with_body(
                &format!("/api/v1/organizations/{target}/move"),
                json!({"parent_code": parent, "on": "2030-01-01"}),
            )
        }
        ("GET", "/api/v1/members") => plain(&format!("/api/v1/members?under={target}")),
        ("POST", "/api/v1/members") => with_body(
            path,
            member_body(&format!("N-{n}"), member_target(relation).1),
        ),
        ("GET", "/api/v1/members/{profile_number}")
        | ("GET", "/api/v1/members/{profile_number}/history")
        | ("GET", "/api/v1/members/{profile_number}/party-age") => {
            plain(&path.replace("{profile_number}", member_target(relation).0))
        }
        ("PATCH", "/api/v1/members/{profile_number}") => {
            let path = path.replace("{profile_number}", member_target(relation).0);
            let current = app.get(&path, admin).await;
            Request {
                path,
                body: Some(json!({"religion": null})),
                headers: vec![("If-Match", current.header("etag").unwrap().to_string())],
            }
        }
        // Each is refused by a rule once the guards let it through, and changes nothing.
        ("POST", p) if p.starts_with("/api/v1/members/{profile_number}/") => {
            let (profile, branch) = member_target(relation);
            let body = match p.rsplit_once("{profile_number}/").unwrap().1 {
                "recognition" => json!({"official_on": "2020-06-01"}),
                "transfers" => json!({"organization_code": branch, "on": "2021-01-01"}),
                "exemptions" => json!({"starts_on": "2019-01-01"}),
                "exemptions/end" => json!({"on": "2021-01-01"}),
                "leave" => json!({"reason": "expelled", "on": "2021-01-01"}),
                "party-age-gaps" => {
                    json!({"reason": "lost_contact", "starts_on": "2019-01-01", "ends_on": "2019-06-01"})
                }
                "positions" => {
                    json!({"title": "Bí thư", "starts_on": "2021-01-01", "ends_on": "2020-01-01"})
                }
                "positions/end" => json!({"title": "Chưa có", "on": "2021-01-01"}),
                other => panic!("the access matrix has no way to call member action {other}"),
            };
            with_body(&p.replace("{profile_number}", profile), body)
        }
        ("GET", "/api/v1/ratings/members")
        | ("GET", "/api/v1/ratings/organizations")
        | ("GET", "/api/v1/disciplinary-actions")
        | ("GET", "/api/v1/insignia-awards")
        | ("GET", "/api/v1/admission-targets") => plain(&format!("{path}?under={target}")),
        ("GET", "/api/v1/stats/structure") => {
            plain(&format!("{path}?organization={target}&on=2023-12-31"))
        }
        ("GET", p) if p.starts_with("/api/v1/stats/") || p == "/api/v1/reports/annual" => {
            plain(&format!("{path}?organization={target}&year=2024"))
        }
        ("GET", "/api/v1/insignia-awards/eligible") => {
            plain(&format!("{path}?on=2024-02-03&under={target}"))
        }
        // A year of its own per cell, so that each admitted write succeeds.
        ("POST", "/api/v1/ratings/members") => with_body(
            path,
            json!({"profile_number": member_target(relation).0, "year": 2021 + n % 79, "level": "good"}),
        ),
        ("POST", "/api/v1/ratings/members/batch") => with_body(
            path,
            json!({"year": 2021 + n % 79, "ratings": [{"profile_number": member_target(relation).0, "level": "good"}]}),
        ),
        ("GET", "/api/v1/ratings/members/{profile_number}/{year}") => plain(&format!(
            "/api/v1/ratings/members/{}/2020",
            member_target(relation).0
        )),
        ("PATCH", "/api/v1/ratings/members/{profile_number}/{year}") => {
            let path = format!("/api/v1/ratings/members/{}/2020", member_target(relation).0);
            let current = app.get(&path, admin).await;
            Request {
                path,
                body: Some(json!({"level": "good"})),
                headers: vec![("If-Match", current.header("etag").unwrap().to_string())],
            }
        }
        ("POST", "/api/v1/ratings/organizations") => with_body(
            path,
            json!({"organization_code": target, "year": 2021 + n % 79, "level": "good"}),
        ),
        ("POST", "/api/v1/ratings/organizations/batch") => with_body(
            path,
            json!({"year": 2021 + n % 79, "ratings": [{"organization_code": target, "level": "good"}]}),
        ),
        ("GET", "/api/v1/ratings/organizations/{code}/{year}") => {
            plain(&format!("/api/v1/ratings/organizations/{target}/2020"))
        }
        ("PATCH", "/api/v1/ratings/organizations/{code}/{year}") => {
            let path = format!("/api/v1/ratings/organizations/{target}/2020");
            let current = app.get(&path, admin).await;
            Request {
                path,
                body: Some(json!({"level": "good"})),
                headers: vec![("If-Match", current.header("etag").unwrap().to_string())],
            }
        }
        ("POST", "/api/v1/disciplinary-actions") => with_body(
            path,
            json!({"subject_type": "member", "subject": member_target(relation).0, "form": "reprimand",
                   "decision_number": format!("M-{n}"), "authority_code": "P1", "decided_on": "2100-06-01"}),
        ),
        ("GET", "/api/v1/disciplinary-actions/{id}")
        | ("POST", "/api/v1/disciplinary-actions/{id}/appeal") => {
            let subject = member_target(relation).0;
            let list = app
                .get(
                    &format!(
                        "/api/v1/disciplinary-actions?under={}",
                        member_target(relation).1
                    ),
                    admin,
                )
                .await;
            let id = list.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["subject"] == subject)
                .map(|a| a["id"].clone())
                .expect("a fixture action");
            let path = path.replace("{id}", &id.to_string());
            if method == "GET" {
                plain(&path)
            } else {
                // Filed before the decision: refused by a rule, changes nothing.
                with_body(&path, json!({"filed_on": "2099-01-01"}))
            }
        }
        ("POST", "/api/v1/insignia-awards") => with_body(
            path,
            json!({"profile_number": member_target(relation).0, "tier": 40, "awarded_on": "2030-02-03"}),
        ),
        ("GET", "/api/v1/insignia-awards/{id}") => {
            let list = app
                .get(
                    &format!(
                        "/api/v1/insignia-awards?under={}",
                        member_target(relation).1
                    ),
                    admin,
                )
                .await;
            plain(&format!(
                "/api/v1/insignia-awards/{}",
                list.body["items"][0]["id"]
            ))
        }
        ("POST", "/api/v1/imports/{kind}") => with_body(
            "/api/v1/imports/admission-targets",
            json!([{"organization_code": target, "year": 2021 + n % 79, "target": 4}]),
        ),
        ("GET", "/api/v1/exports/{kind}") => {
            plain(&format!("/api/v1/exports/members?under={target}"))
        }
        ("POST", "/api/v1/admission-targets") => with_body(
            path,
            json!({"organization_code": target, "year": 2021 + n % 79, "target": 3}),
        ),
        ("GET", "/api/v1/admission-targets/{code}/{year}") => {
            plain(&format!("/api/v1/admission-targets/{target}/2020"))
        }
        ("PATCH", "/api/v1/admission-targets/{code}/{year}") => {
            let path = format!("/api/v1/admission-targets/{target}/2020");
            let current = app.get(&path, admin).await;
            Request {
                path,
                body: Some(json!({"target": 6})),
                headers: vec![("If-Match", current.header("etag").unwrap().to_string())],
            }
        }
        _ => panic!("the access matrix has no way to call {method} {path}: add one to request_for"),
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, row) in matrix().into_iter().enumerate() {
        for (i, expected) in row.statuses.iter().enumerate() {
            let Some(expected) = *expected else { continue };
            let relation = if row.statuses.len() == 1 {
                "-"
            } else {
                RELATIONS[i].0
            };
            let request = request_for(
                &app,
                &fx,
                &row.method,
                &row.path,
                &row.caller,
                i,
                n * 10 + i,
            )
            .await;
            let headers: Vec<(&str, &str)> = request
                .headers
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect();
            let method = Method::from_bytes(row.method.as_bytes()).unwrap();
            let answer = app
                .call_with(
                    method,
                    &request.path,
                    fx.token(&row.caller),
                    request.body,
                    &headers,
                )
                .await;
            checked += 1;
            if answer.status.as_u16() != expected {
                failures.push(format!(
                    "{} {} as {} on {relation}: expected {expected}, got {} {}",
                    row.method, row.path, row.caller, answer.status, answer.text
                ));
            }
            if answer.status.as_u16() >= 400 {
                assert_eq!(
                    answer.header("content-type"),
                    Some("application/problem+json"),
                    "{} {}",
                    row.method,
                    request.path
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_record_outside_the_scope_answers_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let fx = fixture(&app).await;
    let clerk = fx.token("clerk").unwrap();
    let outside = app.get("/api/v1/organizations/C", clerk).await;
    let missing = app.get("/api/v1/organizations/ZZZ", clerk).await;
    outside.expect_problem(404, None);
    missing.expect_problem(404, None);
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["detail"] = json!("");
        v
    };
    assert_eq!(strip(&outside.body), strip(&missing.body));
    assert_eq!(
        outside.body["detail"].as_str().unwrap().replace('C', "ZZZ"),
        missing.body["detail"]
    );
    // Lists are scoped in the query: a clerk's unfiltered list holds only the scope's subtree.
    let list = app.get("/api/v1/organizations?limit=500", clerk).await;
    let codes: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with('A') || c.starts_with('N')),
        "{codes:?}"
    );
    assert!(codes.contains(&"A") && codes.contains(&"A1a"));
}
