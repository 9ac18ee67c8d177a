//! Client commands: they talk to a running node over its HTTP API.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_primitives::dev::dev_account_key;
use cairn_primitives::serde_helpers::{parse_amount, parse_hex_array};
use cairn_primitives::{Address, SecretKey, Transaction};
use cairn_rpc::types::{
    AccountResponse, BlockView, StatusResponse, SubmitResponse, TransactionFields,
    TransactionRequest, TxResponse, TxStatus,
};
use serde::Serialize;

use crate::cli::{KeysCommand, TransferArgs, TxCommand};
use crate::client::Client;
use crate::keyfile;

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn parse_address(text: &str) -> anyhow::Result<Address> {
    parse_hex_array::<20>(text)
        .map(Address::from)
        .map_err(|_| anyhow::anyhow!("{text:?} is not an address (0x + 40 hex digits)"))
}

/// `cairn keys new|dev`.
pub fn keys(command: KeysCommand, json: bool) -> anyhow::Result<()> {
    match command {
        KeysCommand::New { out } => {
            let key = SecretKey::generate();
            keyfile::write_key(&out, &key)?;
            if json {
                print_json(&serde_json::json!({
                    "address": key.address(), "public_key": key.public_key(), "file": out,
                }))
            } else {
                println!("Address:    {:#x}", key.address());
                println!("Public key: {}", key.public_key());
                println!("Key file:   {} (keep it secret)", out.display());
                Ok(())
            }
        }
        KeysCommand::Dev { index } => {
            let key = dev_account_key(index);
            let secret = format!("0x{}", hex::encode(key.to_bytes()));
            if json {
                print_json(&serde_json::json!({
                    "index": index, "address": key.address(), "public_key": key.public_key(),
                    "secret_key": secret,
                }))
            } else {
                println!("Dev account {index}");
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
    status: TxStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// `cairn tx transfer|get`.
pub fn tx(client: &Client, command: TxCommand, json: bool) -> anyhow::Result<()> {
    match command {
        TxCommand::Transfer(args) => transfer(client, args, json),
        TxCommand::Get { hash } => {
            let hash = parse_hex_array::<32>(&hash).map_err(|_| {
                anyhow::anyhow!("{hash:?} is not a transaction hash (0x + 64 hex digits)")
            })?;
            let response: TxResponse =
                client.get(&format!("/v1/transactions/0x{}", hex::encode(hash)))?;
            if json {
                return print_json(&response);
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

fn status_word(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Pending => "pending",
        TxStatus::Committed => "committed",
        TxStatus::Failed => "failed",
        TxStatus::Unknown => "unknown",
    }
}

fn transfer(client: &Client, args: TransferArgs, json: bool) -> anyhow::Result<()> {
    let key = match (&args.key, args.dev) {
        (Some(path), None) => keyfile::read_key(path)?,
        (None, Some(index)) => dev_account_key(index),
        _ => bail!("give exactly one of --key FILE or --dev I"),
    };
    let to = parse_address(&args.to)?;
    let amount = parse_amount(&args.amount).map_err(|e| anyhow::anyhow!("--amount: {e}"))?;
    let status: StatusResponse = client.get("/v1/status")?;
    let nonce = match args.nonce {
        Some(nonce) => nonce,
        None => {
            let account: AccountResponse =
                client.get(&format!("/v1/accounts/{:#x}", key.address()))?;
            account.pending_nonce
        }
    };
    let signed = Transaction {
        chain_id: status.chain_id,
        nonce,
        to,
        amount,
    }
    .sign(&key);
    let request = TransactionRequest::Fields(TransactionFields::from_signed(&signed));
    let submitted: SubmitResponse = client.post("/v1/transactions", &request)?;
    let mut output = TransferOutput {
        hash: submitted.hash,
        status: submitted.status,
        block: None,
        reason: None,
    };
    if args.wait {
        // The timeout is bounded by the parser, so the deadline cannot overflow.
        let deadline = Instant::now() + Duration::from_secs(args.timeout);
        match client.wait_for_result(&submitted.hash, deadline)? {
            Some(result) => {
                output.status = result.status;
                output.block = result.block;
                output.reason = result.receipt.and_then(|r| r.reason);
            }
            None => bail!(
                "transaction {} still pending after {}s",
                submitted.hash,
                args.timeout
            ),
        }
    }
    if json {
        return print_json(&output);
    }
    println!("Hash:    {}", output.hash);
    println!("Status:  {}", status_word(output.status));
    if let Some(block) = output.block {
        println!("Block:   {block}");
    }
    if let Some(reason) = output.reason {
        println!("Reason:  {reason}");
    }
    Ok(())
}

/// `cairn status`.
pub fn status(client: &Client, json: bool) -> anyhow::Result<()> {
    let status: StatusResponse = client.get("/v1/status")?;
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
    address: &str,
    proof: bool,
    proof_out: Option<&std::path::Path>,
    block: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let address = parse_address(address)?;
    let mut path = format!("/v1/accounts/{address:#x}?proof={proof}");
    if let Some(block) = block {
        path.push_str(&format!("&block={block}"));
    }
    let account: AccountResponse = client.get(&path)?;
    if let (Some(out), Some(nodes)) = (proof_out, &account.proof) {
        let nodes: Vec<String> = nodes
            .iter()
            .map(|n| format!("0x{}", hex::encode(n)))
            .collect();
        std::fs::write(out, serde_json::to_string_pretty(&nodes)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if json {
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
        for node in nodes {
            println!("  0x{}", hex::encode(node));
        }
    }
    if let Some(out) = proof_out {
        println!("Proof written to {}", out.display());
    }
    Ok(())
}

/// `cairn block`.
pub fn block(client: &Client, id: &str, full: bool, json: bool) -> anyhow::Result<()> {
    let block: BlockView = client.get(&format!("/v1/blocks/{id}?full={full}"))?;
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
