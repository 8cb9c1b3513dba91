// A HotPocket contract written the way contract authors write them for hotpocket-nodejs-contract:
// each user input is a command, each reply goes back to the user who sent it.
const HotPocket = require('hotpocket-nodejs-contract');
const fs = require('fs');

async function handle(ctx, user, msg) {
    const [cmd, ...rest] = msg.split(':');
    const arg = rest.join(':');
    switch (cmd) {
        case 'echo':
            await user.send('echo:' + arg);
            break;
        case 'ctx':
            await user.send({
                contractId: ctx.contractId,
                publicKey: ctx.publicKey,
                privateKey: ctx.privateKey,
                timestamp: ctx.timestamp,
                readonly: ctx.readonly,
                lclSeqNo: ctx.lclSeqNo,
                lclHash: ctx.lclHash,
                users: ctx.users.list().map(u => [u.publicKey, u.inputs.length]),
                unl: ctx.unl.list().map(n => [n.publicKey, n.activeOn]),
            });
            break;
        case 'write': {
            const [name, ...content] = rest;
            fs.writeFileSync(name, content.join(':'));
            await user.send('wrote:' + name);
            break;
        }
        case 'read':
            await user.send('read:' + fs.readFileSync(arg, 'utf8'));
            break;
        case 'config': {
            const cfg = await ctx.getConfig();
            cfg.version = arg;
            await ctx.updateConfig(cfg);
            await user.send('config:' + (await ctx.getConfig()).version);
            break;
        }
        case 'peers':
            await ctx.updatePeers(['10.0.0.1:22860', '10.0.0.3:22860'], ['10.0.0.2:22860']);
            await user.send('peers:sent');
            break;
        case 'postexec':
            fs.writeFileSync(HotPocket.POST_EXEC_SCRIPT_NAME, '#!/bin/sh\necho "$1" > post_exec.out\nexit ' + arg + '\n', { mode: 0o755 });
            await user.send('postexec:written');
            break;
        default:
            await user.send('unknown:' + msg);
    }
}

async function contract(ctx) {
    for (const user of ctx.users.list()) {
        for (const input of user.inputs) {
            const msg = (await ctx.users.read(input)).toString();
            if (ctx.readonly) {
                // A read request: two replies, each a separate output frame.
                await user.send('ro1:' + msg);
                await user.send('ro2:' + msg);
                continue;
            }
            await handle(ctx, user, msg);
        }
    }
}

const hpc = new HotPocket.Contract();
hpc.init(contract);
