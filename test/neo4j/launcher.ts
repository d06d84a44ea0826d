/** The Neo4j launcher moved to neo4j/launcher.ts, where the daemon uses it too; tests import it from here or from there. */
export * from '../../neo4j/launcher.js';
