//! The writeback target's settings.

use hrsync_source_sf::PrimaryPolicy;

/// How the writeback target reads and writes a person's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfWritebackConfig {
    /// `writeback.primary`: what to do with a primary HR set on a type the
    /// mapping does not write.
    pub primary: PrimaryPolicy,
    /// The email type whose record `email` reports (a name, code or id of
    /// `ecEmailType`); default `business`.
    pub email_type: String,
    /// The phone type `businessPhone` reports; default `business`.
    pub business_phone_type: String,
    /// The phone type `cellPhone` reports; default `cell`.
    pub cell_phone_type: String,
}

impl Default for SfWritebackConfig {
    fn default() -> Self {
        SfWritebackConfig {
            primary: PrimaryPolicy::Keep,
            email_type: "business".into(),
            business_phone_type: "business".into(),
            cell_phone_type: "cell".into(),
        }
    }
}
