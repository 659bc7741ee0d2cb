// The Dapr JavaScript SDK (@dapr/dapr from npm, unmodified) driving a workflow server as
// a Dapr application drives its sidecar: DaprClient over HTTP, `client.workflow.*`.
// It knows nothing of wfkit: the port comes from DAPR_HTTP_PORT and the token, if any,
// from DAPR_API_TOKEN, as under a real sidecar. One JSON object per line on stdout, one
// per SDK call (with the milliseconds it took); the SDK's own log lines are not JSON.
//
//   node dapr_workflow.js operations    all seven operations on three instances
//   node dapr_workflow.js latency N     N gets of one instance: p50/p99 milliseconds
"use strict";

const { performance } = require("node:perf_hooks");
const { CommunicationProtocolEnum, DaprClient } = require("@dapr/dapr");

const POLL_MS = 20;
const DEADLINE_MS = 60000;

const client = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: process.env.DAPR_HTTP_PORT,
  communicationProtocol: CommunicationProtocolEnum.HTTP,
});
const workflow = client.workflow;

function say(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

async function timed(op, call, extra = {}) {
  const began = performance.now();
  const result = await call();
  say({ op, ms: +(performance.now() - began).toFixed(2), ...extra, ...describe(result) });
  return result;
}

function describe(result) {
  if (typeof result === "string") {
    return { instanceID: result };
  }
  if (result && result.runtimeStatus !== undefined) {
    return {
      instanceID: result.instanceID,
      workflowName: result.workflowName,
      runtimeStatus: result.runtimeStatus,
      createdAt: result.createdAt.toISOString(),
      lastUpdatedAt: result.lastUpdatedAt.toISOString(),
      properties: result.properties,
    };
  }
  return {};
}

// The SDK has no way to wait for a status: poll its get until one of `statuses`.
async function until(instanceID, statuses) {
  const deadline = performance.now() + DEADLINE_MS;
  for (;;) {
    const state = await workflow.getWorkflowState(instanceID);
    if (statuses.includes(state.runtimeStatus)) {
      say({ op: "get", ms: 0, ...describe(state) });
      return state;
    }
    if (performance.now() > deadline) {
      throw new Error(`${instanceID} still ${state.runtimeStatus}, not ${statuses}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// The SDK throws an Error whose message is JSON: {error, error_msg, status}.
async function refused(op, call) {
  try {
    await call();
  } catch (error) {
    const reply = JSON.parse(error.message);
    say({ op, status: reply.status, body: JSON.parse(reply.error_msg) });
    return;
  }
  throw new Error(`${op} succeeded; it should have been refused`);
}

async function operations() {
  // start (the SDK makes the instance id) and get, to completion.
  const hello = await timed("start", () => workflow.scheduleNewWorkflow("hello", { who: "dapr" }));
  await until(hello, ["COMPLETED"]);

  // pause, raise events while paused, resume: the awaited event is held until the resume.
  const approval = "js-approval-1";
  await timed("start", () => workflow.scheduleNewWorkflow("approval", { title: "q4" }, approval));
  await until(approval, ["RUNNING"]);
  await timed("pause", () => workflow.pause(approval), { instanceID: approval });
  await timed("get", () => workflow.getWorkflowState(approval));
  await timed("raiseEvent", () => workflow.raiseEvent(approval, "approved", { by: "js" }), {
    instanceID: approval,
  });
  // A string goes as text/plain (an object as application/json): a second event, unawaited.
  await timed("raiseEvent", () => workflow.raiseEvent(approval, "note", "shipped, in review"), {
    instanceID: approval,
  });
  await timed("get", () => workflow.getWorkflowState(approval));
  await timed("resume", () => workflow.resume(approval), { instanceID: approval });
  await until(approval, ["COMPLETED"]);

  // terminate a waiting instance, then purge it: it is gone.
  const doomed = "js-terminate-1";
  await timed("start", () => workflow.scheduleNewWorkflow("approval", {}, doomed));
  await until(doomed, ["RUNNING"]);
  await timed("terminate", () => workflow.terminate(doomed), { instanceID: doomed });
  await until(doomed, ["TERMINATED"]);
  await timed("purge", () => workflow.purge(doomed), { instanceID: doomed });
  await refused("get-purged", () => workflow.getWorkflowState(doomed));
}

async function latency(calls) {
  const id = await workflow.scheduleNewWorkflow("hello", { who: "latency" });
  await until(id, ["COMPLETED"]);
  const times = [];
  for (let n = 0; n < calls; n++) {
    const began = performance.now();
    await workflow.getWorkflowState(id);
    times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  const at = (q) => +times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
  say({ op: "latency", calls, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) });
}

async function main() {
  const [scenario, count] = process.argv.slice(2);
  if (scenario === "operations") {
    await operations();
  } else if (scenario === "latency") {
    await latency(Number(count || 200));
  } else {
    throw new Error(`unknown scenario ${scenario}: operations or latency N`);
  }
  await client.stop();
}

main().catch((error) => {
  process.stderr.write(`dapr_workflow.js failed: ${error.stack || error}\n`);
  process.exit(1);
});
