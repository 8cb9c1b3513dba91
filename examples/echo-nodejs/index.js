// Echo contract for hpnode (and HotPocket): written exactly as a HotPocket contract author writes it.
//
// - Every user input is appended as a line to state file "inputs.log" and echoed back as
//   "echo: <input>".
// - An input "unl_add:<ed-key>" adds that key to the UNL through patch.cfg (ctx.updateConfig),
//   the seed tutorial's way of changing the UNL by consensus.
// - A read request (readonly mode) is answered with the content of inputs.log.
// - It prints its command-line arguments (from bin_args) once per round, for the logs.
const HotPocket = require('hotpocket-nodejs-contract');
const fs = require('fs');

const STATE_FILE = 'inputs.log';

async function contract(ctx) {
    if (!ctx.readonly)
        console.log(`round ${ctx.lclSeqNo + 1} args: ${JSON.stringify(process.argv.slice(2))}`);

    for (const user of ctx.users.list()) {
        for (const input of user.inputs) {
            const text = (await ctx.users.read(input)).toString();
            if (ctx.readonly) {
                const content = fs.existsSync(STATE_FILE) ? fs.readFileSync(STATE_FILE, 'utf8') : '';
                await user.send(content);
                continue;
            }
            if (text.startsWith('unl_add:')) {
                const key = text.slice('unl_add:'.length).trim();
                const cfg = await ctx.getConfig();
                if (!cfg.unl.includes(key)) {
                    cfg.unl.push(key);
                    await ctx.updateConfig(cfg);
                }
                await user.send(`unl_add: ${key}`);
                continue;
            }
            fs.appendFileSync(STATE_FILE, text + '\n');
            await user.send(`echo: ${text}`);
        }
    }
}

const hpc = new HotPocket.Contract();
hpc.init(contract);
