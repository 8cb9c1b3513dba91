// Drives the real hotpocket-js-client@0.5.7 against a userapi server started by jsclient_test.go.
// Usage: node client.js URL SERVER_KEY_HEX PROTOCOL INPUTS
// Prints one JSON summary line on stdout; exits non-zero on any failure.
const HotPocket = require('hotpocket-js-client');

const [url, serverKey, protocol, inputCountArg] = process.argv.slice(2);
const inputCount = parseInt(inputCountArg, 10);

function fail(msg) {
    console.error('FAIL: ' + msg);
    process.exit(1);
}

function waitFor(pred, what, ms = 15000) {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const tick = () => {
            if (pred()) return resolve();
            if (Date.now() - start > ms) return reject(new Error('timeout waiting for ' + what));
            setTimeout(tick, 10);
        };
        tick();
    });
}

const text = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString());
const hex = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString('hex'));

async function main() {
    // Count the client's own verification failures: it logs them and drops the output.
    let validationFailures = 0;
    const origLog = console.log;
    console.log = (m) => {
        if (typeof m === 'string' && m.includes('validation failed')) validationFailures++;
        if (typeof m === 'string' && m.includes('hash mismatch')) validationFailures++;
    };
    HotPocket.setLogLevel(1);

    const keys = await HotPocket.generateKeys();
    const client = await HotPocket.createClient([url], keys, {
        protocol: protocol,
        trustedServerKeys: [serverKey],
    });
    const outputs = [];
    const ledgers = [];
    const unlChanges = [];
    client.on(HotPocket.events.contractOutput, (r) => {
        for (const o of r.outputs) outputs.push({ seq: r.ledgerSeqNo, out: text(o) });
    });
    client.on(HotPocket.events.ledgerEvent, (ev) => {
        if (ev.event === 'ledger_created') ledgers.push({ seq: ev.ledger.seqNo, hash: hex(ev.ledger.hash) });
    });
    client.on(HotPocket.events.unlChange, (unl) => unlChanges.push(unl.map(hex)));

    if (!await client.connect()) fail('connect');

    const stat = await client.getStatus();
    if (!stat || stat.roundTime !== 1000 || stat.currentUnl.length !== 3 || !stat.hpVersion.startsWith('0.6.'))
        fail('stat ' + JSON.stringify(stat));

    await client.subscribe(HotPocket.notificationChannels.ledgerEvent);

    // Inputs with explicit increasing nonces (the default Date.now() collides within a millisecond).
    const base = Date.now();
    const subs = [];
    for (let i = 0; i < inputCount; i++)
        subs.push(client.submitContractInput('input-' + i, base + i, 1000));
    const submitted = await Promise.all(subs);
    const statuses = await Promise.all(submitted.map(s => s.submissionStatus));
    const accepted = statuses.filter(s => s.status === 'accepted');
    if (accepted.length !== inputCount) fail('statuses ' + JSON.stringify(statuses.filter(s => s.status !== 'accepted')));

    await waitFor(() => outputs.length >= inputCount, 'outputs');
    for (let i = 0; i < inputCount; i++)
        if (!outputs.some(o => o.out === 'echo:input-' + i)) fail('missing output ' + i);

    // A reused nonce is rejected with HotPocket's reason.
    const stale = await client.submitContractInput('stale', base);
    const staleStatus = await stale.submissionStatus;
    if (staleStatus.status !== 'rejected' || staleStatus.reason !== 'nonce_expired') fail('stale ' + JSON.stringify(staleStatus));

    // The ledger that holds the first input has it, with its blob.
    const seq = accepted[0].ledgerSeqNo;
    const ledger = await client.getLedgerBySeqNo(seq, true, true);
    if (!ledger || ledger.seqNo !== seq || !ledger.inputs || !ledger.outputs) fail('ledger ' + JSON.stringify(ledger));
    if (hex(ledger.hash) !== hex(accepted[0].ledgerHash)) fail('ledger hash');
    const blobs = ledger.inputs.map(i => text(i.blob));
    if (!blobs.some(b => b.startsWith('input-'))) fail('ledger blobs ' + JSON.stringify(blobs));
    const outBlobs = ledger.outputs.flatMap(o => o.blobs.map(text));
    if (!outBlobs.some(b => b.startsWith('echo:input-'))) fail('ledger output blobs ' + JSON.stringify(outBlobs));
    if (ledger.inputs.some(i => hex(i.pubkey) !== hex(keys.publicKey))) fail('ledger input pubkeys');
    const missing = await client.getLedgerBySeqNo(999999, false, false);
    if (missing !== null) fail('missing ledger ' + JSON.stringify(missing));

    const read = await client.submitContractReadRequest('query');
    if (text(read) !== 'read:query') fail('read ' + JSON.stringify(read));

    // The seed tutorial's UNL change: an input carries a new key, the "contract" adds it.
    await waitFor(() => ledgers.length > 0, 'ledger events');
    const chg = await client.submitContractInput('addunl:3', base + inputCount + 10, 1000);
    if ((await chg.submissionStatus).status !== 'accepted') fail('addunl');
    await waitFor(() => unlChanges.length > 0, 'unl_change');
    if (unlChanges[0].length !== 4) fail('unl ' + JSON.stringify(unlChanges));

    // Outputs after the change verify against the new, larger trusted set.
    const after = await client.submitContractInput('after-change', base + inputCount + 11, 1000);
    if ((await after.submissionStatus).status !== 'accepted') fail('after change');
    await waitFor(() => outputs.some(o => o.out === 'echo:after-change'), 'output after unl change');

    await client.close();
    console.log = origLog;
    console.log(JSON.stringify({
        accepted: accepted.length,
        outputs: outputs.length,
        validationFailures,
        ledgerEvents: ledgers.length,
        unl: unlChanges[0],
        ledgerInputs: ledger.inputs.length,
        read: text(read),
    }));
    process.exit(0);
}

main().catch(e => fail(e && e.stack || e));
