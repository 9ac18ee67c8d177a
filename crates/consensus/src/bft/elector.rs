//! Leader succession by rank (seed 003): the validator ranked first in genesis leads; when it
//! fails, the next in rank takes over, with no election.
//!
//! Built on simplex's stable-leader terms: a leader keeps proposing for a whole term
//! (`term_length` views, a genesis parameter). If it stops (crash, partition, or a view that
//! does not finalize within the stall timeout), the validators nullify its view; a
//! nullification ends the term, and the next term belongs to the next validator in rank. A
//! working leader is therefore replaced only by failure or, after a long term, by rotation.

use commonware_consensus::simplex::elector::{Config, Elector, Scheduled, Terms};
use commonware_consensus::types::{Round, TermLength};
use commonware_cryptography::certificate::Scheme;
use commonware_utils::Participant;
use commonware_utils::ordered::{Quorum, Set};
use std::num::NonZeroU32;
use std::time::Duration;

/// Configuration of [`RankElector`]: validator keys in genesis rank order, and the terms.
#[derive(Clone, Debug)]
pub struct RankElection<K> {
    ranks: Vec<K>,
    terms: Terms,
}

impl<K> RankElection<K> {
    /// Rank order `ranks` (genesis order), terms of `term_length` views abandoned after
    /// `stall_timeout` without finality.
    pub fn new(ranks: Vec<K>, term_length: u32, stall_timeout: Duration) -> Self {
        let length = NonZeroU32::new(term_length.max(2)).unwrap_or(NonZeroU32::MIN);
        let terms = Terms::stable(TermLength::new(length), stall_timeout, Default::default());
        Self { ranks, terms }
    }
}

impl<S: Scheme> Config<S> for RankElection<S::PublicKey>
where
    S::PublicKey: Clone,
{
    type Elector = RankElector<S>;

    fn build(self, participants: &Set<S::PublicKey>) -> RankElector<S> {
        // Consensus numbers participants in key order; rank order is genesis order.
        let order: Vec<Participant> = self
            .ranks
            .iter()
            .filter_map(|key| participants.index(key))
            .collect();
        assert!(!order.is_empty(), "no ranked validator is a participant");
        RankElector {
            order,
            terms: self.terms,
            _scheme: std::marker::PhantomData,
        }
    }
}

/// The built elector: term `t` (numbered from 1) is led by the validator ranked `t - 1`,
/// modulo the number of validators.
#[derive(Clone, Debug)]
pub struct RankElector<S> {
    order: Vec<Participant>,
    terms: Terms,
    _scheme: std::marker::PhantomData<fn() -> S>,
}

impl<S> RankElector<S> {
    /// Rank (genesis index) of the leader of `round`.
    pub fn leader_rank(&self, round: Round) -> usize {
        let term = round.view().term_index(self.terms.length());
        (term.saturating_sub(1) % self.order.len() as u64) as usize
    }
}

impl<S: Scheme> Elector<S> for RankElector<S> {
    type Mode = Scheduled;

    fn terms(&self) -> Terms {
        self.terms
    }

    fn elect(&self, round: Round, _: ()) -> Participant {
        self.order[self.leader_rank(round)]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::bft::{Scheme, participants, ranked_keys};
    use cairn_ledger::ValidatorSet;
    use cairn_primitives::dev::dev_genesis;
    use commonware_consensus::types::{Epoch, View};

    #[test]
    fn each_term_goes_to_the_next_validator_in_genesis_rank() {
        let validators = ValidatorSet::from_genesis(&dev_genesis(4, 0));
        let ranks = ranked_keys(&validators);
        let participants = participants(&validators).unwrap();
        // Consensus numbers participants by key; the elector must follow genesis order
        // nonetheless (the dev keys are not in key order).
        let by_key: Vec<_> = participants.iter().cloned().collect();
        assert_ne!(
            by_key, ranks,
            "the test needs rank order to differ from key order"
        );
        let elector: RankElector<Scheme> =
            RankElection::new(ranks.clone(), 10, Duration::from_secs(5)).build(&participants);
        for view in 1..=85u64 {
            let round = Round::new(Epoch::zero(), View::new(view));
            let rank = ((view - 1) / 10 % 4) as usize;
            assert_eq!(elector.leader_rank(round), rank, "view {view}");
            let leader = elector.elect(round, ());
            assert_eq!(
                participants[usize::from(leader)],
                ranks[rank],
                "view {view}"
            );
        }
    }

    #[test]
    fn a_term_shorter_than_two_views_is_raised_to_two() {
        let validators = ValidatorSet::from_genesis(&dev_genesis(3, 0));
        let participants = participants(&validators).unwrap();
        let elector: RankElector<Scheme> =
            RankElection::new(ranked_keys(&validators), 0, Duration::from_secs(5))
                .build(&participants);
        let rank = |view| elector.leader_rank(Round::new(Epoch::zero(), View::new(view)));
        assert_eq!(
            (rank(1), rank(2), rank(3), rank(5), rank(7)),
            (0, 0, 1, 2, 0)
        );
    }
}
