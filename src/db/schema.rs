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

diesel::joinable!(users -> organizations (scope_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(api_keys -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    organization_tree,
    users,
    sessions,
    refresh_tokens,
    api_keys,
);
