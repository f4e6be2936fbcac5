//! The rule file as written: serde models of Panther's analysis YAML plus
//! kadet's extensions. Unknown keys are errors (`deny_unknown_fields`), which
//! the YAML parser reports with their line and column.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;
use std::fmt;

/// A rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct RuleFile {
    pub AnalysisType: String,
    pub RuleID: Option<String>,
    pub DisplayName: Option<String>,
    pub Enabled: Option<bool>,
    pub Status: Option<String>,
    pub Filename: Option<String>,
    #[serde(default)]
    pub LogTypes: Vec<String>,
    #[serde(default)]
    pub Tags: Vec<String>,
    pub Severity: Option<String>,
    pub Description: Option<String>,
    pub Runbook: Option<String>,
    pub Reference: Option<String>,
    #[serde(default)]
    pub Reports: BTreeMap<String, Vec<Yaml>>,
    pub DedupPeriodMinutes: Option<u32>,
    pub Threshold: Option<u32>,
    #[serde(default)]
    pub SummaryAttributes: Vec<String>,
    #[serde(default)]
    pub Tests: Vec<TestCase>,
    pub CreateAlert: Option<bool>,
    #[serde(default)]
    pub OutputIds: Vec<String>,
    pub Detection: Option<ExprList>,
    pub InlineFilters: Option<ExprList>,
    pub AlertTitle: Option<String>,
    pub Dedup: Option<String>,
    pub GroupBy: Option<Vec<KeySpecRaw>>,
    pub AlertContext: Option<Vec<ContextRaw>>,
    pub DynamicSeverities: Option<Vec<DynamicSeverityRaw>>,
    pub DynamicTitles: Option<Vec<DynamicTitleRaw>>,
    pub DistinctBy: Option<KeySpecRaw>,
    pub Follows: Option<FollowsRaw>,
    pub DedupPeriodSecondsFrom: Option<KeySpecRaw>,
    pub FirstSeen: Option<FirstSeenRaw>,
}

/// `FirstSeen` (kadet): a match counts only when its value is new for its
/// group (see [`crate::first_seen`]).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct FirstSeenRaw {
    #[serde(default)]
    pub GroupBy: Vec<KeySpecRaw>,
    pub Value: KeySpecRaw,
    pub LearningMinutes: Option<u32>,
    pub ForgetAfterMinutes: Option<u32>,
}

/// `Follows` (kadet): a match counts only after an open window of another
/// rule whose dedup string equals this event's `Key` (see [`crate::follow`]).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct FollowsRaw {
    pub RuleID: String,
    pub Key: KeySpecRaw,
    #[serde(default)]
    pub EscalateWhen: EscalateWhenRaw,
}

/// `Follows.EscalateWhen`: each condition that holds raises the severity
/// one level.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct EscalateWhenRaw {
    #[serde(default)]
    pub NewSourceAddress: bool,
    #[serde(default)]
    pub NewUserAgent: bool,
    pub MinutesAfter: Option<u32>,
}

/// A `DynamicTitles` entry: title and/or dedup templates used when the
/// conditions hold (kadet).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct DynamicTitleRaw {
    pub Conditions: ExprList,
    pub AlertTitle: Option<String>,
    pub Dedup: Option<String>,
}

/// A library file: named lists and conditions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct LibraryFile {
    pub AnalysisType: String,
    pub Description: Option<String>,
    #[serde(default)]
    pub Lists: BTreeMap<String, Vec<Yaml>>,
    #[serde(default)]
    pub Conditions: BTreeMap<String, ExprList>,
}

/// One unit test.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct TestCase {
    pub Name: String,
    pub ExpectedResult: bool,
    pub Log: Yaml,
    pub Mocks: Option<Yaml>,
    pub ExpectedTitle: Option<String>,
    pub ExpectedDedup: Option<String>,
    pub ExpectedSeverity: Option<String>,
}

/// A key specifier on its own (GroupBy, AlertContext, DistinctBy, multi-key).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct KeySpecRaw {
    pub Key: Option<String>,
    pub KeyPath: Option<String>,
    pub DeepKey: Option<Vec<Yaml>>,
}

/// An `AlertContext` entry.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct ContextRaw {
    pub KeyName: String,
    pub KeyValue: Option<KeySpecRaw>,
    pub Template: Option<String>,
    pub Value: Option<Yaml>,
}

/// A `DynamicSeverities` entry.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct DynamicSeverityRaw {
    pub ChangeTo: String,
    pub Conditions: ExprList,
}

/// One match expression as written.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case, missing_docs)]
pub struct ExprRaw {
    pub Key: Option<String>,
    pub KeyPath: Option<String>,
    pub DeepKey: Option<Vec<Yaml>>,
    pub Condition: Option<ConditionName>,
    pub Value: Option<Yaml>,
    pub Values: Option<Yaml>,
    pub Expressions: Option<ExprList>,
    pub All: Option<ExprList>,
    pub Any: Option<ExprList>,
    pub OnlyOne: Option<ExprList>,
    pub None: Option<ExprList>,
    pub Use: Option<String>,
}

/// A list of expressions; a single mapping is taken as a list of one.
#[derive(Debug, Clone, Default)]
pub struct ExprList(pub Vec<ExprRaw>);

impl<'de> Deserialize<'de> for ExprList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExprList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of match expressions, or one match expression")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExprList, A::Error> {
                let mut out = Vec::new();
                while let Some(e) = seq.next_element::<ExprRaw>()? {
                    out.push(e);
                }
                Ok(ExprList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExprList, A::Error> {
                let one = ExprRaw::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ExprList(vec![one]))
            }
        }
        d.deserialize_any(V)
    }
}

macro_rules! condition_names {
    ($($name:ident),* $(,)?) => {
        /// Every condition name the language has.
        #[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum ConditionName { $($name),* }

        impl ConditionName {
            /// The name as written in rules.
            pub fn as_str(self) -> &'static str {
                match self { $(ConditionName::$name => stringify!($name)),* }
            }
        }
    };
}

condition_names!(
    Equals,
    DoesNotEqual,
    IEquals,
    IDoesNotEqual,
    StartsWith,
    DoesNotStartWith,
    IStartsWith,
    IDoesNotStartWith,
    EndsWith,
    DoesNotEndWith,
    IEndsWith,
    IDoesNotEndWith,
    Contains,
    DoesNotContain,
    IContains,
    IDoesNotContain,
    IsIn,
    IsNotIn,
    IsGreaterThan,
    IsGreaterThanOrEqual,
    IsLessThan,
    IsLessThanOrEqual,
    Exists,
    DoesNotExist,
    IsNull,
    IsNotNull,
    IsNullOrEmpty,
    IsNotNullOrEmpty,
    IsIPAddress,
    IsIPv4Address,
    IsIPv6Address,
    IsIPAddressPublic,
    IsIPAddressPrivate,
    IsIPAddressInCIDR,
    IsIPAddressNotInCIDR,
    MatchesRegex,
    DoesNotMatchRegex,
    AlwaysTrue,
    AlwaysFalse,
    AnyElement,
    AllElements,
    OnlyOneElement,
    NoElement,
);
