//! The seed's rent story, by schedule alone: a tenant pays a landlord 10,000 on the 1st of
//! every month for a year; the lease ends if the tenant cannot pay. Nobody sends anything:
//! block after block, the schedule says when `rent` falls due and the VM runs it. (The chain
//! will do exactly this at the start of its blocks; here the blocks are simulated.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cairn_contracts::*;

/// The lease: the landlord deploys it (and is its operator); the tenant is a holder. Money
/// moves with the extension `p.w.$bl` (write the operator's field).
const LEASE: &str = "\
#when trigger=monthly(1) run(holder.rent)
lease.rent=10000
lease.acs.holder.rent={ if (p.ended == 1) { return; }
  if (p.bl < p.$rent) { p.w.ended = 1; return; }
  p.w.bl = p.bl - p.$rent; p.w.$bl = p.$bl + p.$rent;
  p.w.paid = p.paid + 1; if (p.paid >= 12) { p.w.ended = 1; } }
";

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// ms since the epoch of 00:00 UTC on a date.
fn day(year: i64, month: u32, day: u32) -> u64 {
    days_from_civil(year, month, day) as u64 * 86_400_000
}

struct Lease {
    tenant: BTreeMap<String, Decimal>,
    landlord: BTreeMap<String, Decimal>,
    /// (the month it fell due, what the run wrote to the tenant) per run.
    runs: Vec<(u64, BTreeMap<String, Decimal>)>,
}

/// Runs the lease from its signing (noon, 15 January 2026) over `months` months of blocks,
/// one every six hours.
fn live(tenant_balance: &str, months: u64) -> Lease {
    let package = compile_package(LEASE).unwrap();
    let line = &package.schedule[0];
    let Action::Run(name) = &line.action else {
        panic!()
    };
    let rent = &package.contract(name).unwrap().program;
    let mut lease = Lease {
        tenant: [("bl".to_string(), d(tenant_balance))]
            .into_iter()
            .collect(),
        landlord: [("rent".to_string(), package.constants["lease.rent"])]
            .into_iter()
            .collect(),
        runs: Vec::new(),
    };
    let signed = ChainPoint {
        height: 1,
        time_ms: day(2026, 1, 15) + 12 * 3_600_000,
    };
    let mut last = signed;
    for block in 1..=months * 30 * 4 {
        let now = ChainPoint {
            height: signed.height + block,
            time_ms: signed.time_ms + block * 6 * 3_600_000,
        };
        for due in line.trigger.due(signed, last, now, 16) {
            let Due::Time(at) = due else { panic!() };
            let none = BTreeMap::new();
            let env = Env {
                record: &lease.tenant,
                operator: &lease.landlord,
                names: &none,
            };
            let outcome = run(rent, &env, 1_000).unwrap();
            lease.tenant.extend(outcome.writes.clone());
            lease.landlord.extend(outcome.operator_writes);
            lease.runs.push((at, outcome.writes));
        }
        last = now;
    }
    lease
}

#[test]
fn a_tenant_who_runs_out_of_money_ends_the_lease() {
    // 85,000 pays eight months (February to September); on 1 October the rent cannot be paid.
    let lease = live("85000", 14);
    assert_eq!(lease.tenant["paid"], d("8"));
    assert_eq!(lease.tenant["bl"], d("5000"));
    assert_eq!(lease.tenant["ended"], d("1"));
    assert_eq!(lease.landlord["bl"], d("80000"));
    // The rent fell due on every 1st of the month; October's run ended the lease, and the
    // later ones found it ended and wrote nothing.
    let months: Vec<u64> = lease.runs.iter().map(|(at, _)| *at).collect();
    assert_eq!(months.len(), 14);
    assert_eq!(months[0], day(2026, 2, 1));
    assert_eq!(months[8], day(2026, 10, 1));
    assert_eq!(
        lease.runs[8].1,
        [("ended".to_string(), d("1"))].into_iter().collect()
    );
    assert!(lease.runs[9..].iter().all(|(_, writes)| writes.is_empty()));
}

#[test]
fn a_tenant_who_pays_every_month_ends_the_year() {
    let lease = live("200000", 15);
    assert_eq!(lease.tenant["paid"], d("12"));
    assert_eq!(lease.tenant["bl"], d("80000"));
    assert_eq!(lease.landlord["bl"], d("120000"));
    // The twelfth payment (1 January 2027) ends the lease; nothing is taken after it.
    assert_eq!(lease.tenant["ended"], d("1"));
    assert_eq!(lease.runs[11].0, day(2027, 1, 1));
    assert!(lease.runs[12..].iter().all(|(_, writes)| writes.is_empty()));
}
