console.log('base image self-test');
