/**
 * Turn `@name` parameters (the style of every .sql file) into PostgreSQL's `$1…$n`, keeping the
 * order of names so a params object can be laid out as an array.
 */
export function compileNamedParams(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(/(?<![@\w])@([A-Za-z_]\w*)/g, (_, name: string) => {
    let index = names.indexOf(name);
    if (index === -1) {
      names.push(name);
      index = names.length - 1;
    }
    return `$${index + 1}`;
  });
  return { text, names };
}
