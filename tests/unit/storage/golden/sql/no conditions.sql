-- query: ''

-- page
SELECT doc, version FROM interaction WHERE 1 ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. -1
2. 0

-- count
SELECT count(*) FROM interaction WHERE 1

-- count params
