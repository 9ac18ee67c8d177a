//! Starting simplex with Cairn's application on a validator.

use std::num::{NonZeroU16, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::Chain;
use cairn_mempool::Mempool;
use cairn_network::{NetworkStats, PeerKey, PeerTracker, RecordingBlocker, peer_key, peer_signer};
use cairn_primitives::SecretKey;
use commonware_consensus::simplex::types::{Activity, Context};
use commonware_consensus::simplex::{self, ForwardPolicy, Plan, SkipBudget, SkipPolicy};
use commonware_consensus::types::{Epoch, ViewDelta};
use commonware_consensus::{CertifiableAutomaton, Relay, Reporter};
use commonware_p2p::{Blocker, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::buffer::paged::CacheRef;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::NonZeroDuration;
use rand_core::CryptoRng;

use super::application::{Application, ApplicationConfig, ViewStatus};
use super::elector::RankElection;
use super::{Digest, Scheme, digest, namespace, participants, ranked_keys};
use crate::ConsensusError;

/// Timeouts and pacing of a validator.
#[derive(Debug, Clone)]
pub struct BftConfig {
    /// How long to wait for the leader's proposal before voting to skip its view.
    pub leader_timeout: Duration,
    /// How long to wait for a view to be certified (must exceed the leader timeout).
    pub certification_timeout: Duration,
    /// How often to repeat a skip vote while stuck in a view.
    pub timeout_retry: Duration,
    /// How long to wait for a peer to answer a certificate request.
    pub fetch_timeout: Duration,
    /// How long a view may stay unfinalized before the leader's term is abandoned (must
    /// exceed the certification timeout).
    pub stall_timeout: Duration,
    /// Skip a leader at once if it has been silent this long while a quorum has not.
    pub skip_timeout: Duration,
    /// Block building.
    pub application: ApplicationConfig,
    /// Storage partition of the consensus journal.
    pub partition: String,
}

impl Default for BftConfig {
    fn default() -> Self {
        Self {
            leader_timeout: Duration::from_secs(1),
            certification_timeout: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(1),
            stall_timeout: Duration::from_secs(10),
            skip_timeout: Duration::from_secs(5),
            application: ApplicationConfig::default(),
            partition: "cairn-consensus".into(),
        }
    }
}

impl BftConfig {
    /// Checks relations simplex relies on.
    pub fn validate(&self) -> Result<(), ConsensusError> {
        let invalid = |why: &str| Err(ConsensusError::Config(why.into()));
        if self.certification_timeout <= self.leader_timeout {
            return invalid("certification_timeout must exceed leader_timeout");
        }
        if self.stall_timeout <= self.certification_timeout {
            return invalid("stall_timeout must exceed certification_timeout");
        }
        if self.application.block_interval >= self.leader_timeout {
            return invalid("block_interval must be shorter than leader_timeout");
        }
        if self.application.max_block_transactions == 0 {
            return invalid("max_block_transactions must be positive");
        }
        Ok(())
    }
}

/// A running validator: its consensus engine and application.
pub struct Validator {
    /// This validator's rank in genesis.
    pub rank: usize,
    /// The current view and its leader.
    pub view: Arc<ViewStatus>,
    /// The simplex engine's task.
    pub engine: Handle<()>,
    /// The application's task.
    pub application: Handle<()>,
}

/// The channels a validator's consensus uses.
pub struct ConsensusChannels<S, R> {
    /// Votes.
    pub votes: (S, R),
    /// Certificates.
    pub certificates: (S, R),
    /// Certificate fetching.
    pub resolver: (S, R),
    /// Proposed blocks.
    pub proposals: (S, R),
}

/// Everything a validator shares with the rest of its node.
pub struct ValidatorParts {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The pool.
    pub pool: Arc<Mempool>,
    /// Network counters.
    pub stats: Arc<NetworkStats>,
    /// Liveness of peers.
    pub peers: Arc<PeerTracker>,
}

/// Starts simplex and the application for the validator holding `key`.
pub fn start_validator<E, B, S, R>(
    context: E,
    parts: ValidatorParts,
    key: &SecretKey,
    config: BftConfig,
    blocker: B,
    channels: ConsensusChannels<S, R>,
) -> Result<Validator, ConsensusError>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    B: Blocker<PublicKey = PeerKey>,
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
{
    config.validate()?;
    let ValidatorParts {
        chain,
        pool,
        stats,
        peers,
    } = parts;
    let validators = chain.validators().clone();
    let rank = validators.index_of_key(&key.public_key()).ok_or_else(|| {
        ConsensusError::Config(format!(
            "key {} is not a validator in this chain's genesis",
            key.public_key()
        ))
    })?;
    let me = peer_key(&key.public_key()).ok_or_else(|| {
        ConsensusError::Config("the validator key is not a valid ed25519 key".into())
    })?;
    let (application, mailbox, view) = Application::new(
        chain.clone(),
        pool,
        Some(me),
        ranked_keys(&validators),
        config.application.clone(),
        channels.proposals,
        (stats.clone(), blocker.clone()),
        peers,
    );
    let application = application.start(context.child("application"));
    let engine = start_engine(
        context.child("simplex"),
        &chain,
        key,
        &config,
        RecordingBlocker::new(blocker, stats),
        Roles {
            automaton: mailbox.clone(),
            relay: mailbox.clone(),
            reporter: mailbox,
        },
        (channels.votes, channels.certificates, channels.resolver),
    )?;
    Ok(Validator {
        rank,
        view,
        engine,
        application,
    })
}

/// What simplex calls: normally all three are the application's [`Mailbox`](super::application::Mailbox).
pub struct Roles<A, L, F> {
    /// Proposes and verifies.
    pub automaton: A,
    /// Broadcasts proposals.
    pub relay: L,
    /// Hears about consensus activity.
    pub reporter: F,
}

/// The vote, certificate and resolver channels.
pub type EngineChannels<S, R> = ((S, R), (S, R), (S, R));

/// Starts the simplex engine for the validator holding `key`, calling `roles`.
pub fn start_engine<E, B, A, L, F, S, R>(
    context: E,
    chain: &Chain,
    key: &SecretKey,
    config: &BftConfig,
    blocker: B,
    roles: Roles<A, L, F>,
    (votes, certificates, resolver): EngineChannels<S, R>,
) -> Result<Handle<()>, ConsensusError>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    B: Blocker<PublicKey = PeerKey>,
    A: CertifiableAutomaton<Context = Context<Digest, PeerKey>, Digest = Digest>,
    L: Relay<Digest = Digest, PublicKey = PeerKey, Plan = Plan<PeerKey>>,
    F: Reporter<Activity = Activity<Scheme, Digest>>,
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
{
    config.validate()?;
    let validators = chain.validators();
    let participants = participants(validators).map_err(ConsensusError::Config)?;
    let scheme = Scheme::signer(
        &namespace(&chain.genesis_hash()),
        participants,
        peer_signer(key),
    )
    .ok_or_else(|| ConsensusError::Config("the validator key is not a participant".into()))?;
    let elector = RankElection::new(
        ranked_keys(validators),
        chain.genesis().consensus.term_length,
        config.stall_timeout,
    );
    let non_zero = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
    let engine = simplex::Engine::new(
        context,
        simplex::Config {
            scheme,
            elector,
            blocker,
            automaton: roles.automaton,
            relay: roles.relay,
            reporter: roles.reporter,
            strategy: Sequential,
            partition: config.partition.clone(),
            mailbox_size: non_zero(1_024),
            epoch: Epoch::zero(),
            floor: simplex::Floor::Genesis(digest(&chain.genesis_hash())),
            leader_timeout: config.leader_timeout,
            certification_timeout: config.certification_timeout,
            timeout_retry: config.timeout_retry,
            fetch_timeout: NonZeroDuration::new(config.fetch_timeout)
                .unwrap_or(NonZeroDuration::new_panic(Duration::from_secs(1))),
            fetch_retry_delay: Duration::from_millis(100),
            view_retention: ViewDelta::new(64),
            skip: SkipPolicy::Enabled {
                timeout: config.skip_timeout,
                budget: SkipBudget::Participants,
            },
            replay_buffer: non_zero(1024 * 1024),
            write_buffer: non_zero(1024 * 1024),
            page_cache: CacheRef::new(
                NonZeroU16::new(16_384).unwrap_or(NonZeroU16::MIN),
                non_zero(1_024),
            ),
            forward: ForwardPolicy::Disabled,
            track_historical_votes: false,
        },
    );
    Ok(engine.start(votes, certificates, resolver))
}
