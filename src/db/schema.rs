//! The one diesel schema for both engines, kept by hand in step with `migrations/*`.
//! (A test compares the two migrated databases; another runs every query here on both.)

diesel::table! {
    organizations (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        search_name -> Text,
        kind -> Text,
        established_on -> Date,
        dissolved_on -> Nullable<Date>,
        has_branch_committee -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_tree (ancestor_id, descendant_id, valid_from) {
        ancestor_id -> BigInt,
        descendant_id -> BigInt,
        depth -> Integer,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        scope_id -> Nullable<BigInt>,
        active -> Bool,
        token_version -> BigInt,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    members (id) {
        id -> BigInt,
        profile_number -> Text,
        card_number -> Nullable<Text>,
        full_name -> Text,
        search_name -> Text,
        sort_key -> Text,
        gender -> Text,
        born_on -> Date,
        ethnicity -> Nullable<Text>,
        religion -> Nullable<Text>,
        national_id -> Nullable<Text>,
        organization_id -> BigInt,
        admitted_on -> Date,
        ceremony_on -> Nullable<Date>,
        official_on -> Nullable<Date>,
        left_on -> Nullable<Date>,
        leave_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (id) {
        id -> BigInt,
        member_id -> BigInt,
        organization_id -> BigInt,
        kind -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
    }
}

diesel::table! {
    member_exemptions (id) {
        id -> BigInt,
        member_id -> BigInt,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    party_age_gaps (id) {
        id -> BigInt,
        member_id -> BigInt,
        reason -> Text,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    positions (id) {
        id -> BigInt,
        member_id -> BigInt,
        title -> Text,
        organization_id -> Nullable<BigInt>,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
    }
}

diesel::table! {
    member_events (id) {
        id -> BigInt,
        member_id -> BigInt,
        occurred_on -> Date,
        kind -> Text,
        details -> Text,
        recorded_at -> Timestamp,
        recorded_by -> Nullable<Text>,
    }
}

diesel::table! {
    member_ratings (id) {
        id -> BigInt,
        member_id -> BigInt,
        year -> Integer,
        level -> Text,
        score -> Nullable<Integer>,
        reason -> Nullable<Text>,
        self_corrected -> Bool,
        decided_on -> Nullable<Date>,
        override_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_ratings (id) {
        id -> BigInt,
        organization_id -> BigInt,
        year -> Integer,
        level -> Text,
        score -> Nullable<Integer>,
        reason -> Nullable<Text>,
        decided_on -> Nullable<Date>,
        override_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    disciplinary_actions (id) {
        id -> BigInt,
        subject_type -> Text,
        member_id -> Nullable<BigInt>,
        organization_id -> Nullable<BigInt>,
        subject_key -> Text,
        form -> Text,
        decision_number -> Text,
        authority_id -> BigInt,
        decided_on -> Date,
        announced_on -> Nullable<Date>,
        violation -> Nullable<Text>,
        regulation_article -> Nullable<Text>,
        especially_serious -> Bool,
        appeal_filed_on -> Nullable<Date>,
        appeal_outcome -> Nullable<Text>,
        appeal_decided_on -> Nullable<Date>,
        reduced_form -> Nullable<Text>,
        expires_on -> Nullable<Date>,
        override_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    insignia_awards (id) {
        id -> BigInt,
        member_id -> BigInt,
        tier -> Integer,
        awarded_on -> Date,
        decision_number -> Nullable<Text>,
        posthumous -> Bool,
        early -> Bool,
        revoked_on -> Nullable<Date>,
        override_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    admission_targets (id) {
        id -> BigInt,
        organization_id -> BigInt,
        year -> Integer,
        target -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        user_id -> Nullable<BigInt>,
        api_key_id -> Nullable<BigInt>,
        actor -> Text,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        entity -> Text,
        record_key -> Text,
        action -> Text,
        organization_code -> Nullable<Text>,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        override_reason -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> BigInt,
        last_id -> BigInt,
        last_hash -> Text,
    }
}

diesel::joinable!(users -> organizations (scope_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(members -> organizations (organization_id));
diesel::joinable!(memberships -> members (member_id));
diesel::joinable!(member_exemptions -> members (member_id));
diesel::joinable!(party_age_gaps -> members (member_id));
diesel::joinable!(positions -> members (member_id));
diesel::joinable!(member_events -> members (member_id));
diesel::joinable!(member_ratings -> members (member_id));
diesel::joinable!(organization_ratings -> organizations (organization_id));
diesel::joinable!(insignia_awards -> members (member_id));
diesel::joinable!(admission_targets -> organizations (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    organization_tree,
    users,
    sessions,
    refresh_tokens,
    api_keys,
    members,
    memberships,
    member_exemptions,
    party_age_gaps,
    positions,
    member_events,
    member_ratings,
    organization_ratings,
    disciplinary_actions,
    insignia_awards,
    admission_targets,
    audit_events,
    audit_head,
);
