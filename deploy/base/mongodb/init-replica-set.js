// Run by the mongodb-init Job with `mongosh --nodb`. Idempotent:
// 1. wait until every member in MEMBERS answers (as root: the image created the user);
// 2. initiate the replica set REPLICA_SET with them, or add members missing from it;
// 3. wait for a primary;
// 4. create or update the user of each service: readWrite on its own database only.
// (Each retry loop is written out: mongosh's try/catch misses errors of database
// calls made inside callbacks.)
const env = process.env;
const members = env.MEMBERS.split(",").map((m) => m.trim()).filter((m) => m);
const credentials =
  encodeURIComponent(env.ROOT_USERNAME) + ":" + encodeURIComponent(env.ROOT_PASSWORD);
const services = ["gateway", "ideas", "validation", "notifications"];
const attempts = 120; // 5 s apart: ten minutes for the members to start

function member(host) {
  for (let attempt = 1; ; attempt++) {
    try {
      const db = connect(
        `mongodb://${credentials}@${host}/admin?directConnection=true&authSource=admin` +
          "&serverSelectionTimeoutMS=5000"
      );
      db.adminCommand({ ping: 1 });
      return db;
    } catch (error) {
      if (attempt >= attempts) throw error;
      print(`waiting for ${host}: ${error.message}`);
      sleep(5000);
    }
  }
}

function primary() {
  for (let attempt = 1; ; attempt++) {
    try {
      const db = connect(
        `mongodb://${credentials}@${members.join(",")}/admin?replicaSet=${env.REPLICA_SET}` +
          "&authSource=admin&serverSelectionTimeoutMS=5000"
      );
      // Commands go to the primary; without one, server selection fails: retry.
      if (db.hello().isWritablePrimary) return db;
      throw new Error("no primary yet");
    } catch (error) {
      if (attempt >= attempts) throw error;
      print(`waiting for a primary: ${error.message}`);
      sleep(5000);
    }
  }
}

function add(set, host) {
  // One member per reconfig: a reconfig may add a single voting member at a time.
  for (let attempt = 1; ; attempt++) {
    try {
      const config = set.adminCommand({ replSetGetConfig: 1 }).config;
      if (config.members.some((m) => m.host === host)) return;
      const id = Math.max(...config.members.map((m) => m._id)) + 1;
      config.members.push({ _id: id, host });
      config.version += 1;
      set.adminCommand({ replSetReconfig: config });
      print(`added ${host} to ${env.REPLICA_SET}`);
      return;
    } catch (error) {
      if (attempt >= 12) throw error;
      print(`adding ${host}: ${error.message}`);
      sleep(5000);
    }
  }
}

const first = member(members[0]);
for (const host of members.slice(1)) member(host);

let initiated = true;
try {
  first.adminCommand({ replSetGetConfig: 1 });
} catch (error) {
  if (error.code !== 94) throw error; // 94: NotYetInitialized
  initiated = false;
}
if (!initiated) {
  print(`initiating ${env.REPLICA_SET} with ${members.join(", ")}`);
  first.adminCommand({
    replSetInitiate: {
      _id: env.REPLICA_SET,
      members: members.map((host, index) => ({ _id: index, host })),
    },
  });
}

const set = primary();
for (const host of members) add(set, host);

const admin = set.getSiblingDB("admin");
for (const service of services) {
  const key = service.toUpperCase();
  const user = `quorum-${service}`;
  const password = env[`${key}_PASSWORD`];
  const database = env[`${key}_DATABASE`];
  if (!password || !database) throw new Error(`${key}_PASSWORD and ${key}_DATABASE are required`);
  const roles = [{ role: "readWrite", db: database }];
  if (admin.getUser(user) === null) {
    admin.createUser({ user, pwd: password, roles });
    print(`created ${user} (readWrite on ${database})`);
  } else {
    admin.updateUser(user, { pwd: password, roles });
    print(`updated ${user} (readWrite on ${database})`);
  }
}
print("mongodb-init: done");
