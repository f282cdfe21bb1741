//! How this town works, chosen per seed: office practices that legitimate work follows
//! (and detection must not mistake for misuse), the layouts its systems export, and the
//! shape each injected incident takes. A detector tuned to one town's habits fails on
//! another's; every seed is another town, and any three consecutive seeds see each
//! practice both on and off.

/// The shapes an incident of a kind can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationPath {
    /// A member of the insider's household now.
    Household,
    /// A former spouse who moved out before the period.
    FormerHousehold,
    /// A parent living elsewhere, linked only in the family register.
    FamilyRegister,
    /// A neighbour of another surname at the next house number.
    Neighbour,
    /// A colleague's own record.
    Colleague,
}

impl RelationPath {
    pub fn name(self) -> &'static str {
        match self {
            RelationPath::Household => "household",
            RelationPath::FormerHousehold => "former-household",
            RelationPath::FamilyRegister => "family-register",
            RelationPath::Neighbour => "neighbour",
            RelationPath::Colleague => "colleague",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorrowShape {
    /// The insider's own account on a colleague's unlocked terminal.
    OwnAccount,
    /// The colleague's account, logged in on the colleague's unlocked terminal, used by the
    /// insider while the colleague is out.
    OwnersAccount,
}

/// How a leaver takes data before going (B1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaverShape {
    /// Copies to a removable device (the approved stick, if they hold one).
    Device,
    /// Prints lists.
    Print,
    /// Uploads to a file-sharing service.
    Upload,
}

/// What work at night is for (B2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NightShape {
    /// Records looked up with no business.
    Records,
    /// Files sent to one's webmail, and lists printed.
    Webmail,
}

#[derive(Debug, Clone)]
pub struct Practices {
    /// Welfare staff cover each other's caseloads (look up residents on a colleague's).
    pub team_cases: bool,
    /// Counter clerks search by name and open namesakes before the resident they serve.
    pub name_search: bool,
    /// The residents' counter logs into the registry under shared counter accounts; the
    /// clerk's own Windows session on the counter PC says who it is.
    pub shared_counter_account: bool,
    /// Monthly sanctioned extracts of every record (tax notices), with a case `*`.
    pub bulk_extracts: bool,
    /// The endpoint product blocks personal devices, and staff try them now and then.
    pub blocked_devices: bool,
    /// The residents' counter opens on the last Sunday of the month.
    pub open_sundays: bool,
    /// The tax section's late season runs past what `detect.toml` configures.
    pub season_overrun: bool,
    /// Move notices are often left without a closing date.
    pub unclosed_cases: bool,
    /// Crematorium colleagues complete permits others registered in the days after.
    pub follow_ups: bool,
    /// A statistics table whose headers name personal items (but holds counts) goes to a
    /// research contractor.
    pub statistics_mail: bool,
    /// Business systems write host names in lower case.
    pub lower_case_hosts: bool,
    /// A section mails notices to many outside addresses (a mail merge, or one mail in Bcc).
    pub mail_merge: bool,
    /// The IT administrator installs software from a kit stick at staff PCs.
    pub it_admin_devices: bool,
    /// Which export layout the registry and welfare systems use (0, 1, 2).
    pub layout: u8,
    /// The welfare system is a vendor's package that writes JSON Lines with keys of its
    /// own (UNIX seconds, nested objects) instead of any CSV layout.
    pub welfare_json: bool,
    /// The web proxy's log: squid's native format without TLS inspection (HTTPS seen as
    /// `CONNECT host:443`), or the combined format from a proxy that inspects TLS (full URLs).
    pub proxy_combined: bool,
    /// B1's shape.
    pub leaver: LeaverShape,
    /// B2's shape.
    pub night: NightShape,
    /// B3's service: `file_sharing`, `cloud_storage` or `webmail`.
    pub upload_service: &'static str,
    /// B4: the outside addresses in To (else in Cc).
    pub visible_in_to: bool,
    /// S1's relation to the insider.
    pub s1_relation: RelationPath,
    /// S2's shape.
    pub s2_shape: BorrowShape,
    /// How many clerks look the mayor up (S3), and whether one is a registry clerk.
    pub s3_clerks: u8,
    /// S6 starts slowly: once a week for three weeks before the twice-weekly habit.
    pub s6_slow: bool,
}

impl Practices {
    /// The town of seed `seed`. Practice `k` is off when `(seed + k) % 3 == 0`, so any
    /// three consecutive seeds see it both ways; incident shapes rotate with the seed.
    pub fn for_seed(seed: u64) -> Practices {
        let on = |k: u64| !(seed + k).is_multiple_of(3);
        let relations = [RelationPath::Household, RelationPath::FormerHousehold, RelationPath::FamilyRegister, RelationPath::Neighbour, RelationPath::Colleague];
        Practices {
            team_cases: on(0),
            name_search: on(1),
            shared_counter_account: on(2),
            bulk_extracts: on(0),
            blocked_devices: on(1),
            open_sundays: on(2),
            season_overrun: on(0),
            unclosed_cases: on(1),
            follow_ups: on(2),
            statistics_mail: on(1),
            lower_case_hosts: on(2),
            mail_merge: on(0),
            it_admin_devices: on(1),
            layout: (seed % 3) as u8,
            welfare_json: seed % 4 == 3,
            proxy_combined: seed % 2 == 0,
            leaver: [LeaverShape::Device, LeaverShape::Print, LeaverShape::Upload][(seed % 3) as usize],
            night: if seed % 2 == 0 { NightShape::Records } else { NightShape::Webmail },
            upload_service: ["file_sharing", "cloud_storage", "webmail"][((seed + 1) % 3) as usize],
            visible_in_to: seed % 2 == 1,
            s1_relation: relations[(seed % 5) as usize],
            s2_shape: if seed.is_multiple_of(2) { BorrowShape::OwnersAccount } else { BorrowShape::OwnAccount },
            s3_clerks: 1 + (seed % 2) as u8,
            s6_slow: seed % 2 == 1,
        }
    }

    /// The welfare system's export layout: `layout`, or 3 for its JSON Lines.
    pub fn welfare_layout(&self) -> u8 {
        if self.welfare_json { 3 } else { self.layout }
    }

    /// The practices on, by name (for the truth file and the benchmark).
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.team_cases, "team-cases"),
            (self.name_search, "name-search"),
            (self.shared_counter_account, "shared-counter-account"),
            (self.bulk_extracts, "bulk-extracts"),
            (self.blocked_devices, "blocked-devices"),
            (self.open_sundays, "open-sundays"),
            (self.season_overrun, "season-overrun"),
            (self.unclosed_cases, "unclosed-cases"),
            (self.follow_ups, "follow-ups"),
            (self.statistics_mail, "statistics-mail"),
            (self.lower_case_hosts, "lower-case-hosts"),
            (self.mail_merge, "mail-merge"),
            (self.it_admin_devices, "it-admin-devices"),
        ];
        all.into_iter().filter(|(on, _)| *on).map(|(_, n)| n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_three_consecutive_seeds_see_every_practice_on_and_off_and_five_see_every_shape() {
        for first in 1..10u64 {
            let towns: Vec<Practices> = (first..first + 3).map(Practices::for_seed).collect();
            for name in ["team-cases", "name-search", "shared-counter-account", "bulk-extracts", "open-sundays", "follow-ups", "mail-merge", "it-admin-devices"] {
                let on = towns.iter().filter(|t| t.names().contains(&name)).count();
                assert!((1..3).contains(&on), "{name} from seed {first}: on in {on} of 3");
            }
        }
        let shapes: std::collections::BTreeSet<&str> = (1..=5).map(|s| Practices::for_seed(s).s1_relation.name()).collect();
        assert_eq!(shapes.len(), 5);
    }
}
