// Drives the real hotpocket-js-client@0.5.7 against a running hpnode cluster.
// Usage: node cluster_client.js MODE URL TRUSTED_KEYS(comma) PROTOCOL [ARG]
//   echo N      submit N inputs, expect N accepted statuses and N verified "echo: ..." outputs,
//               the inputs in getLedgerBySeqNo, and all of them in a read request's reply
//   unl_add KEY submit "unl_add:KEY", expect an unl_change with KEY in it
//   input TEXT  submit one input TEXT, expect it accepted (not its output: with a member out of step,
//               fewer than the 80% of trusted keys the client requires may sign it)
//   bench N     submit N inputs one after the other and report submit->accepted and ->output times
//   burst N     submit N inputs at once, expect all accepted, report the rate
//   sustained S:W  keep W inputs in flight for S seconds, report accepted inputs per second
// Prints one JSON summary line on stdout; exits non-zero on any failure.
const HotPocket = require('hotpocket-js-client');

const [mode, url, trustedArg, protocol, arg] = process.argv.slice(2);
const trusted = trustedArg.split(',').filter(k => k);

function fail(msg) {
    process.stdout.write('FAIL: ' + msg + '\n');
    process.exit(1);
}

function waitFor(pred, what, ms = 30000) {
    return new Promise((resolve, reject) => {
        const start = Date.now();
        const tick = () => {
            if (pred()) return resolve();
            if (Date.now() - start > ms) return reject(new Error('timeout waiting for ' + what));
            setTimeout(tick, 2);
        };
        tick();
    });
}

const text = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString());
// hotpocket-nodejs-contract JSON.stringifies every output in its default json mode; hpnode sends
// such an output as the JSON text (so the client's output verification passes), so a string output
// arrives quoted. unquote reads it back.
const unquote = (s) => {
    if (s.length >= 2 && s[0] === '"' && s[s.length - 1] === '"') {
        try { return JSON.parse(s); } catch (e) { return s; }
    }
    return s;
};
const hex = (v) => (typeof v === 'string' ? v : Buffer.from(v).toString('hex'));

async function main() {
    // The client logs and drops an output that fails verifyContractOutputTrust; count those.
    let validationFailures = 0;
    const origLog = console.log;
    console.log = (m) => {
        if (typeof m === 'string' && (m.includes('validation failed') || m.includes('hash mismatch'))) validationFailures++;
    };
    HotPocket.setLogLevel(1);
    const keys = await HotPocket.generateKeys();
    // With no trusted keys the client connects to any server and does not verify outputs.
    const client = await HotPocket.createClient([url], keys, trusted.length ? { protocol, trustedServerKeys: trusted } : { protocol });
    const outputs = [];
    const unlChanges = [];
    client.on(HotPocket.events.contractOutput, (r) => {
        const now = Date.now();
        for (const o of r.outputs) outputs.push({ seq: r.ledgerSeqNo, out: unquote(text(o)), at: now });
    });
    client.on(HotPocket.events.unlChange, (unl) => unlChanges.push(unl.map(hex)));
    if (!await client.connect()) fail('connect');
    await client.subscribe(HotPocket.notificationChannels.unlChange);
    const base = Date.now() * 1000;
    let summary;

    if (mode === 'echo') {
        const n = parseInt(arg, 10);
        const subs = [];
        for (let i = 0; i < n; i++) subs.push(client.submitContractInput('input-' + i, base + i));
        const statuses = await Promise.all((await Promise.all(subs)).map(s => s.submissionStatus));
        const bad = statuses.filter(s => s.status !== 'accepted');
        if (bad.length) fail('not accepted: ' + JSON.stringify(bad.slice(0, 3)));
        await waitFor(() => outputs.length >= n, 'outputs (' + outputs.length + '/' + n + ', validation failures ' + validationFailures + ')');
        for (let i = 0; i < n; i++)
            if (!outputs.some(o => o.out === 'echo: input-' + i)) fail('missing output ' + i + ': ' + JSON.stringify(outputs.slice(0, 3)));
        const seq = statuses[0].ledgerSeqNo;
        const ledger = await client.getLedgerBySeqNo(seq, true, true);
        if (!ledger || ledger.seqNo !== seq || hex(ledger.hash) !== hex(statuses[0].ledgerHash)) fail('ledger ' + JSON.stringify(ledger));
        const blobs = (ledger.inputs || []).map(i => text(i.blob));
        if (!blobs.includes('input-0')) fail('ledger inputs ' + JSON.stringify(blobs.slice(0, 5)));
        const read = unquote(text(await client.submitContractReadRequest('content')));
        for (let i = 0; i < n; i++)
            if (!read.includes('input-' + i + '\n')) fail('read reply lacks input-' + i + ': ' + read.slice(0, 200));
        summary = { accepted: statuses.length, outputs: outputs.length, validationFailures, ledgerInputs: blobs.length, readBytes: read.length };
    } else if (mode === 'unl_add') {
        const st = await (await client.submitContractInput('unl_add:' + arg, base)).submissionStatus;
        if (st.status !== 'accepted') fail('unl_add ' + JSON.stringify(st));
        await waitFor(() => unlChanges.some(u => u.includes(arg)), 'unl_change with the new key');
        summary = { unl: unlChanges[unlChanges.length - 1] };
    } else if (mode === 'input') {
        const st = await (await client.submitContractInput(arg, base)).submissionStatus;
        if (st.status !== 'accepted') fail('input ' + JSON.stringify(st));
        summary = { accepted: 1 };
    } else if (mode === 'bench') {
        const n = parseInt(arg, 10);
        const accept = [], output = [];
        for (let i = 0; i < n; i++) {
            const t0 = Date.now();
            const want = 'echo: bench-' + i;
            const s = await (await client.submitContractInput('bench-' + i, base + i)).submissionStatus;
            if (s.status !== 'accepted') fail('bench input ' + JSON.stringify(s));
            accept.push(Date.now() - t0);
            await waitFor(() => outputs.some(o => o.out === want), 'bench output');
            output.push(outputs.find(o => o.out === want).at - t0);
        }
        const med = a => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
        summary = { n, acceptMedianMs: med(accept), outputMedianMs: med(output), validationFailures };
    } else if (mode === 'burst') {
        // N inputs submitted at once; every one must be accepted.
        const n = parseInt(arg, 10);
        const t0 = Date.now();
        const subs = [];
        for (let i = 0; i < n; i++) subs.push(client.submitContractInput('burst-' + i, base + i));
        const statuses = await Promise.all((await Promise.all(subs)).map(s => s.submissionStatus));
        const ms = Date.now() - t0;
        const bad = statuses.filter(s => s.status !== 'accepted');
        if (bad.length) fail(bad.length + ' not accepted: ' + JSON.stringify(bad.slice(0, 3)));
        summary = { n, ms, acceptedPerSec: Math.round(n * 1000 / ms) };
    } else if (mode === 'sustained') {
        // Keep WINDOW inputs in flight for SECONDS; report accepted inputs per second.
        const [secs, windowSize] = arg.split(':').map(x => parseInt(x, 10));
        const t0 = Date.now();
        let sent = 0, accepted = 0, rejected = 0, inflight = 0;
        const reasons = {};
        await new Promise((resolve) => {
            const pump = () => {
                while (inflight < windowSize && Date.now() - t0 < secs * 1000) {
                    const i = sent++;
                    inflight++;
                    client.submitContractInput('s-' + i, base + i).then(s => s.submissionStatus).then(st => {
                        inflight--;
                        if (st.status === 'accepted') accepted++;
                        else { rejected++; reasons[st.reason] = (reasons[st.reason] || 0) + 1; }
                        if (Date.now() - t0 >= secs * 1000 && inflight === 0) resolve();
                        else pump();
                    });
                }
            };
            pump();
        });
        const ms = Date.now() - t0;
        summary = { secs, sent, accepted, rejected, reasons, acceptedPerSec: Math.round(accepted * 1000 / ms) };
    } else {
        fail('unknown mode ' + mode);
    }
    await client.close();
    console.log = origLog;
    process.stdout.write(JSON.stringify(summary) + '\n');
    process.exit(0);
}

main().catch(e => fail(e && e.stack || e));
