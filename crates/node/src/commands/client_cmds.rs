//! Client commands: they talk to a running node over its HTTP API.

use std::time::Duration;

use anyhow::{Context, bail};
use cairn_api_types::TxStatus;
use cairn_client::ClientError;
use cairn_primitives::dev::dev_account_key_for;
use cairn_primitives::serde_helpers::{parse_0x_hex_array, parse_amount};
use cairn_primitives::{AccountKey, Address, B256, KeyKind, SignedTransaction, Transaction};
use serde::Serialize;

use crate::cli::{KeysCommand, SignerArgs, TransferArgs, TxCommand};
use crate::client::Client;
use crate::exit::{self, Failure};
use crate::keyfile;

pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// An address argument (0x + 40 hex digits); anything else is a usage error naming `what`.
pub fn parse_address(what: &str, text: &str) -> anyhow::Result<Address> {
    parse_0x_hex_array::<20>(text)
        .map(Address::from)
        .map_err(|_| {
            Failure::usage(
                "invalid_argument",
                format!("{what}: {text:?} is not an address (0x + 40 hex digits)"),
            )
            .into()
        })
}

fn parse_hash(text: &str) -> anyhow::Result<B256> {
    parse_0x_hex_array::<32>(text).map(B256::from).map_err(|_| {
        Failure::usage(
            "invalid_argument",
            format!("HASH: {text:?} is not a transaction hash (0x + 64 hex digits)"),
        )
        .into()
    })
}

/// `cairn keys new|dev`.
pub fn keys(command: KeysCommand, json: bool) -> anyhow::Result<()> {
    match command {
        KeysCommand::New { out, suite } => {
            let key = AccountKey::generate(suite);
            keyfile::write_key(&out, &key)?;
            if json {
                print_json(&serde_json::json!({
                    "suite": suite, "address": key.address(), "public_key": key.public_key(),
                    "file": out,
                }))
            } else {
                println!("Suite:      {suite}");
                println!("Address:    {:#x}", key.address());
                println!("Public key: {}", key.public_key());
                println!("Key file:   {} (keep it secret)", out.display());
                Ok(())
            }
        }
        KeysCommand::Dev { index, suite } => {
            let key = dev_account_key_for(suite.suite(), index);
            let secret = format!("0x{}", hex::encode(key.to_bytes()));
            if json {
                print_json(&serde_json::json!({
                    "index": index, "suite": suite, "address": key.address(),
                    "public_key": key.public_key(), "secret_key": secret,
                }))
            } else {
                println!("Dev account {index} ({suite})");
                println!("Address:     {:#x}", key.address());
                println!("Public key:  {}", key.public_key());
                println!("Secret key:  {secret} (public knowledge: development only)");
                Ok(())
            }
        }
    }
}

/// The output of `cairn tx transfer`.
#[derive(Serialize)]
struct TransferOutput {
    hash: cairn_primitives::B256,
    /// The nonce it was signed with: the same command with `--nonce` signs the same bytes.
    nonce: u64,
    status: TxStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// What `cairn tx transfer --sign-only` prints.
#[derive(Debug, Serialize)]
struct SignedOutput {
    hash: cairn_primitives::B256,
    /// The suite of the key that signed it (`ed25519` or `sm2`): a chain takes only its own.
    suite: KeyKind,
    /// The signed transaction's canonical encoding, 0x-hex.
    tx: cairn_primitives::Bytes,
    chain_id: u64,
    nonce: u64,
}

/// `cairn tx transfer|get`.
pub fn tx(client: &Client, command: TxCommand, json: bool) -> anyhow::Result<()> {
    match command {
        TxCommand::Transfer(args) => transfer(client, args, json),
        TxCommand::Get { hash, .. } => {
            let hash = parse_hash(&hash)?;
            let response = client.block_on(client.api().transaction(&hash))?;
            let unknown = response.status == TxStatus::Unknown;
            let not_found = || {
                Failure::new(
                    exit::NOT_FOUND,
                    "unknown_transaction",
                    format!(
                        "the node at {} does not know transaction {hash}",
                        client.api().base_url()
                    ),
                )
            };
            if json {
                print_json(&response)?;
                if unknown {
                    return Err(not_found().printed().into());
                }
                return Ok(());
            }
            if unknown {
                return Err(not_found().into());
            }
            println!("Hash:    {}", response.hash);
            println!("Status:  {}", status_word(response.status));
            if let (Some(block), Some(index)) = (response.block, response.index) {
                println!("Block:   {block} (index {index})");
            }
            if let Some(tx) = &response.transaction {
                println!("From:    {:#x}", tx.from);
                println!("To:      {:#x}", tx.fields.to);
                println!("Amount:  {}", tx.fields.amount);
                println!("Nonce:   {}", tx.fields.nonce);
            }
            if let Some(reason) = response.receipt.and_then(|r| r.reason) {
                println!("Reason:  {reason}");
            }
            Ok(())
        }
    }
}

pub(crate) fn status_word(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Pending => "pending",
        TxStatus::Committed => "committed",
        TxStatus::Failed => "failed",
        TxStatus::Unknown => "unknown",
    }
}

/// The key a command signs with: `--key FILE` or `--dev I`.
/// The key to sign with: the key file's, or dev account I of `--suite`'s chains, or else of
/// the node's chain's suite (which costs one request to learn it).
pub(crate) fn signing_key(client: &Client, signer: &SignerArgs) -> anyhow::Result<AccountKey> {
    match (&signer.key, signer.dev, signer.suite) {
        (Some(path), None, _) => keyfile::read_key(path),
        (None, Some(index), Some(suite)) => Ok(dev_account_key_for(suite.suite(), index)),
        (None, Some(index), None) => {
            let status = client
                .block_on(client.api().status())
                .map_err(not_submitted)?;
            Ok(dev_account_key_for(status.crypto, index))
        }
        _ => bail!("give exactly one of --key FILE or --dev I"),
    }
}

/// A failure before anything was sent: exit 3, nothing submitted.
pub(crate) fn not_submitted(error: ClientError) -> Failure {
    Failure::new(
        exit::NOT_SUBMITTED,
        error.code().to_string(),
        format!("not submitted: {error}"),
    )
}

/// The chain id and the nonce to sign with: `nonce`, or the sender's next one counting its
/// pending transactions.
pub(crate) fn chain_and_nonce(
    client: &Client,
    sender: &Address,
    nonce: Option<u64>,
) -> anyhow::Result<(u64, u64)> {
    let api = client.api();
    let status = client.block_on(api.status()).map_err(not_submitted)?;
    let nonce = match nonce {
        Some(nonce) => nonce,
        None => {
            client
                .block_on(api.account(sender, None, false))
                .map_err(not_submitted)?
                .pending_nonce
        }
    };
    Ok((status.chain_id, nonce))
}

/// What became of a submitted transaction.
pub(crate) struct Submitted {
    pub hash: cairn_primitives::B256,
    pub status: TxStatus,
    pub block: Option<u64>,
    pub receipt: Option<cairn_api_types::ReceiptView>,
}

/// Submits `signed` once and, with `wait` (seconds), waits for its block. Exit 3 if it was
/// not submitted (or may not have been), 5 if the wait ran out, 1 on other failures after
/// submission.
pub(crate) fn submit_and_wait(
    client: &Client,
    signed: &SignedTransaction,
    wait: Option<u64>,
) -> anyhow::Result<Submitted> {
    let api = client.api();
    let hash = signed.hash();
    let nonce = signed.nonce();
    let submitted = client
        .block_on(api.submit(signed))
        .map_err(|error| match error {
            // Refused by the node: certainly not in its pool.
            ClientError::Api { .. } if certainly_refused(&error) => {
                not_submitted(error).with("hash", hash.to_string())
            }
            // It may or may not have reached the pool (a timeout, a proxy's error, a fault
            // of the node's own).
            other => Failure::new(
                exit::NOT_SUBMITTED,
                other.code().to_string(),
                format!(
                    "transaction {hash} may not have been submitted: {other}; \
                     `cairn tx get {hash}` tells whether the node has it"
                ),
            )
            .with("hash", hash.to_string()),
        })?;
    let mut output = Submitted {
        hash: submitted.hash,
        status: submitted.status,
        block: None,
        receipt: None,
    };
    if let Some(timeout) = wait {
        let waited =
            client.block_on(api.wait_for_result(&submitted.hash, Duration::from_secs(timeout)));
        match waited {
            Ok(Some(result)) => {
                output.status = result.status;
                output.block = result.block;
                output.receipt = result.receipt;
            }
            Ok(None) => {
                return Err(Failure::new(
                    exit::TIMED_OUT,
                    "timeout",
                    format!(
                        "transaction {} (nonce {nonce}) was submitted and is still pending after \
                         {timeout}s; it may still commit: follow it with `cairn tx get {}` and do \
                         not send it again",
                        submitted.hash, submitted.hash
                    ),
                )
                .with("hash", submitted.hash.to_string())
                .with("nonce", nonce)
                .into());
            }
            Err(error) => {
                return Err(Failure::new(
                    exit::ERROR,
                    error.code().to_string(),
                    format!(
                        "transaction {} was submitted, then: {error}",
                        submitted.hash
                    ),
                )
                .with("hash", submitted.hash.to_string())
                .into());
            }
        }
    }
    Ok(output)
}

fn transfer(client: &Client, args: TransferArgs, json: bool) -> anyhow::Result<()> {
    // The arguments first: a usage error needs no node.
    let to = parse_address("--to", &args.to)?;
    let amount = parse_amount(&args.amount)
        .ok()
        .filter(|amount| *amount > 0)
        .ok_or_else(|| {
            Failure::usage(
                "invalid_argument",
                format!(
                    "--amount: {:?} is not an amount (a whole number of base units above 0)",
                    args.amount
                ),
            )
        })?;
    let offline = args.sign_only && args.chain_id.is_some() && args.nonce.is_some();
    let key = if offline && args.signer.dev.is_some() && args.signer.suite.is_none() {
        // Signing offline asks the node nothing, not even its suite.
        let signer = SignerArgs {
            suite: Some(KeyKind::Ed25519),
            ..args.signer.clone()
        };
        signing_key(client, &signer)?
    } else {
        signing_key(client, &args.signer)?
    };
    let (chain_id, nonce) = match (args.sign_only, args.chain_id, args.nonce) {
        // Offline: nothing to ask the node.
        (true, Some(chain_id), Some(nonce)) => (chain_id, nonce),
        (_, wanted, nonce) => {
            let (chain_id, nonce) = chain_and_nonce(client, &key.address(), nonce)?;
            if let Some(wanted) = wanted
                && wanted != chain_id
            {
                return Err(Failure::usage(
                    "invalid_argument",
                    format!("--chain-id: {wanted}, but the node serves chain {chain_id}"),
                )
                .into());
            }
            (chain_id, nonce)
        }
    };
    let signed = Transaction {
        chain_id,
        nonce,
        to,
        amount,
    }
    .sign(&key);
    if args.sign_only {
        let output = SignedOutput {
            hash: signed.hash(),
            suite: key.kind(),
            tx: signed.encoded().into(),
            chain_id,
            nonce,
        };
        if json {
            print_json(&output)?;
        } else {
            println!("Hash:    {}", output.hash);
            println!("Suite:   {}", output.suite);
            println!("Chain:   {chain_id}");
            println!("Nonce:   {nonce}");
            println!("Tx:      {}", output.tx);
        }
        return Ok(());
    }
    // The timeout is bounded by the parser.
    let sent = submit_and_wait(client, &signed, args.wait.then_some(args.timeout))?;
    let output = TransferOutput {
        hash: sent.hash,
        nonce,
        status: sent.status,
        block: sent.block,
        reason: sent.receipt.and_then(|r| r.reason),
    };
    if json {
        print_json(&output)?;
    } else {
        println!("Hash:    {}", output.hash);
        println!("Nonce:   {}", output.nonce);
        println!("Status:  {}", status_word(output.status));
        if let Some(block) = output.block {
            println!("Block:   {block}");
        }
        if let Some(reason) = &output.reason {
            println!("Reason:  {reason}");
        }
    }
    if output.status == TxStatus::Failed {
        let reason = output.reason.as_deref().unwrap_or("failed");
        let failure = Failure::new(
            exit::FAILED,
            reason.to_string(),
            format!(
                "transaction {} is in block {} but failed: {reason}",
                output.hash,
                output.block.unwrap_or_default()
            ),
        );
        return Err(failure.printed().into());
    }
    Ok(())
}

/// Whether an error from a submission proves the transfer is not in the node's pool: the
/// node's own refusals (4xx, and 503 when its pool is full), not a timeout (408: admission may
/// finish after it), a proxy's answer or a fault of the node (5xx).
fn certainly_refused(error: &ClientError) -> bool {
    match error {
        ClientError::Api { status, code, .. } => {
            ((400..500).contains(status) && *status != 408)
                || (*status == 503 && matches!(code.as_str(), "pool_full" | "sender_pool_full"))
        }
        _ => false,
    }
}

/// `cairn status`.
pub fn status(client: &Client, json: bool) -> anyhow::Result<()> {
    let status = client.block_on(client.api().status())?;
    if json {
        return print_json(&status);
    }
    println!("Chain id:   {}", status.chain_id);
    println!("Genesis:    {}", status.genesis_hash);
    println!("Height:     {}", status.height);
    println!("Head:       {}", status.head);
    println!("Engine:     {}", status.engine);
    match status.validator_index {
        Some(index) => println!("Validator:  rank {index}"),
        None => println!("Validator:  no (full node)"),
    }
    if let Some(leader) = status.leader_index {
        println!("Leader:     rank {leader}");
    }
    println!("Peers:      {}", status.peers);
    if status.sync.syncing {
        println!(
            "Syncing:    {} of {} (from {})",
            status.sync.current, status.sync.highest, status.sync.starting
        );
    }
    println!(
        "Pool:       {} pending, {} ready",
        status.pool.pending, status.pool.ready
    );
    if let Some(network) = &status.network {
        println!(
            "Network:    {} bad messages dropped, {} invalid blocks, {} consensus faults",
            network.dropped_messages, network.invalid_blocks, network.consensus_faults
        );
        if network.peers_blocked > 0 || network.forgeries > 0 || network.unsolicited_blocks > 0 {
            println!(
                "            {} unsolicited blocks, {} forgeries, {} peers blocked",
                network.unsolicited_blocks, network.forgeries, network.peers_blocked
            );
        }
        for offender in &network.offenders {
            println!(
                "  Offender: {} ({} offences, blocked {} times, last: {})",
                offender.peer, offender.offences, offender.blocked, offender.last
            );
        }
    }
    Ok(())
}

/// `cairn account`.
pub fn account(
    client: &Client,
    address: &Address,
    proof: bool,
    proof_out: Option<&std::path::Path>,
    block: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let account = client.block_on(client.api().account(address, block, proof))?;
    if let (Some(out), Some(nodes)) = (proof_out, &account.proof) {
        let nodes: Vec<String> = nodes
            .iter()
            .map(|n| format!("0x{}", hex::encode(n)))
            .collect();
        std::fs::write(out, serde_json::to_string_pretty(&nodes)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if json {
        // Machine output is the node's whole answer, proof included, whatever --proof-out.
        return print_json(&account);
    }
    println!("Address:     {:#x}", account.address);
    println!("Balance:     {}", account.balance);
    println!("Nonce:       {}", account.nonce);
    println!("Next nonce:  {}", account.pending_nonce);
    println!("Block:       {}", account.block);
    println!("State root:  {}", account.state_root);
    if let Some(nodes) = &account.proof {
        println!("Proof:       {} nodes", nodes.len());
        match proof_out {
            Some(out) => println!("Proof written to {}", out.display()),
            None => {
                for node in nodes {
                    println!("  0x{}", hex::encode(node));
                }
            }
        }
    }
    Ok(())
}

/// `cairn block`.
pub fn block(client: &Client, id: &str, full: bool, json: bool) -> anyhow::Result<()> {
    let block = client.block_on(client.api().block(id, full))?;
    if json {
        return print_json(&block);
    }
    let header = &block.header;
    println!("Height:        {}", header.height);
    println!("Hash:          {}", header.hash);
    println!("Parent:        {}", header.parent_hash);
    println!("Timestamp ms:  {}", header.timestamp_ms);
    println!("Proposer:      {:#x}", header.proposer);
    println!("State root:    {}", header.state_root);
    println!("Txs root:      {}", header.transactions_root);
    println!("Receipts root: {}", header.receipts_root);
    println!("Seal:          {}", block.seal.kind);
    println!("Transactions:  {}", block.transaction_count);
    for hash in &block.transactions {
        println!("  {hash}");
    }
    Ok(())
}

/// `cairn cluster status`.
pub fn cluster_status(client: &Client, json: bool) -> anyhow::Result<()> {
    let status: cairn_api_types::ClusterStatus =
        client.block_on(client.api().get("/v1/cluster"))?;
    if json {
        return print_json(&status);
    }
    match status.cluster_id {
        None => println!("In no cluster yet (placement {}).", status.placement),
        Some(id) => {
            println!("Cluster:          {id}");
            if let Some(expires) = status.expires_at {
                println!("Expires:          {}", cairn_api_types::rfc3339(expires));
            }
            println!("Placement:        {}", status.placement);
            println!("Retained blocks:  {}", status.retain_blocks);
            if let Some(index) = status.index {
                println!("This node:        slot {index}");
            }
            for member in &status.members {
                println!(
                    "  slot {:>3}  {}  {:<7}  {} blocks{}",
                    member.index,
                    member
                        .peer
                        .map_or_else(|| "(vacated)".to_string(), |peer| peer.to_string()),
                    if member.online { "online" } else { "offline" },
                    member.stored_blocks,
                    member
                        .stored_bytes
                        .map(|bytes| format!(", {bytes} bytes"))
                        .unwrap_or_default()
                );
            }
            println!("Under-replicated: {}", status.under_replicated);
            println!("Unrecoverable:    {}", status.unrecoverable);
            println!(
                "Repair:           {} pending, {} done",
                status.repair.pending, status.repair.done
            );
        }
    }
    Ok(())
}

/// `cairn cluster expand`.
pub fn cluster_expand(client: &Client, json: bool) -> anyhow::Result<()> {
    let status: cairn_api_types::ClusterStatus = client.block_on(
        client
            .api()
            .post("/v1/cluster/expand", &serde_json::json!({})),
    )?;
    if json {
        return print_json(&status);
    }
    println!(
        "Asked to double the cluster ({} members) once as many nodes wait to join.",
        status.members.len()
    );
    Ok(())
}
